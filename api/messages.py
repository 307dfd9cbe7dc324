"""Reasons, patterns, statuses and levels as a reader reads them: in Simplified Chinese or
English (``Accept-Language``), with times in the org's time zone.

A reason keeps its ``code`` and the numbers its message names (``params``); a message
catalog (gettext ``.po`` files under ``api/locale``, read with Babel) holds a template per
code — ``code/form`` where a code has variants. Rendering fills the template; a template
that does not fit the reason's params, or a code the catalog does not hold, leaves the
detector's English message, so a reader always gets a message. Params named ``*_day_ts``
become local dates, ``*_ts`` local times, ``*_utc_minute`` a local clock time; ``tz`` is
the zone's name.

>>> from learnguard.detector.base import Reason
>>> r = Reason("rate_above_course_max", "played at 16× for 600 s; this course allows at most 2×", 16.0, 2.0,
...            params={"rate": 16.0, "seconds": 600.0, "max_rate": 2.0})
>>> render(r, "zh_CN", ZoneInfo("Asia/Shanghai")).message
'以 16 倍速播放了 600 秒；本课程最高允许 2 倍速'
>>> render(r, "en", ZoneInfo("Asia/Shanghai")).message == r.message
True
>>> negotiate("zh-CN,zh;q=0.9,en;q=0.8"), negotiate("en-US,en;q=0.9"), negotiate(None), negotiate("fr")
('zh_CN', 'en', 'en', 'en')
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from babel.core import negotiate_locale
from babel.messages.pofile import read_po

from learnguard.detector.base import Reason
from learnguard.features.orgs import org_covers
from learnguard.settings import Settings

LOCALES = ("zh_CN", "en")
DEFAULT = "en"
CATALOGS = Path(__file__).resolve().parent / "locale"


@cache
def catalog(lang: str) -> dict[str, str]:
    """msgid → template of a language (empty for one we have no catalog of)."""
    path = CATALOGS / lang / "LC_MESSAGES" / "learnguard.po"
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        messages = read_po(handle, locale=lang)
    return {str(m.id): str(m.string) for m in messages if m.id and m.string}


def negotiate(accept_language: str | None) -> str:
    """The locale to answer in, from an ``Accept-Language`` header (q-values honoured)."""
    if not accept_language:
        return DEFAULT
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")):
        tag, _, rest = part.strip().partition(";")
        quality = 1.0
        if rest.strip().startswith("q="):
            try:
                quality = float(rest.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and quality > 0:
            ranked.append((-quality, index, tag.replace("_", "-")))
    preferred = [tag for *_, tag in sorted(ranked)]
    found = negotiate_locale(preferred, [loc.replace("_", "-") for loc in LOCALES], sep="-")
    if found is None:  # "zh" alone, "zh-Hans": Chinese all the same
        found = next(("zh-CN" for tag in preferred if tag.lower().startswith("zh")), None)
    return found.replace("-", "_") if found else DEFAULT


def zone_of(settings: Settings, org_id: str | None) -> ZoneInfo:
    """The time zone of an org: that of its longest configured subtree, else the default.

    >>> s = Settings(org_time_zones={"xinjiang": "Asia/Urumqi"})
    >>> zone_of(s, "xinjiang/xju").key, zone_of(s, "zhejiang/hdu").key, zone_of(s, None).key
    ('Asia/Urumqi', 'Asia/Shanghai', 'Asia/Shanghai')
    """
    best = ""
    for subtree in settings.org_time_zones:
        if org_id is not None and org_covers(subtree, org_id) and len(subtree) > len(best):
            best = subtree
    return ZoneInfo(settings.org_time_zones[best] if best else settings.time_zone)


def label(kind: str, name: str, lang: str) -> str:
    """A pattern's, status's or level's name in ``lang`` (the code when none is held)."""
    return catalog(lang).get(f"{kind}.{name}") or name


def _localised(params: dict[str, Any], zone: ZoneInfo) -> dict[str, object]:
    out: dict[str, object] = {"tz": str(zone.key)}
    for name, value in params.items():
        if name.endswith("_day_ts") and isinstance(value, int | float):
            out[name] = datetime.fromtimestamp(value, tz=zone).strftime("%Y-%m-%d")
        elif name.endswith("_ts") and isinstance(value, int | float):
            out[name] = datetime.fromtimestamp(value, tz=zone).strftime("%Y-%m-%d %H:%M")
        elif name.endswith("_utc_minute") and isinstance(value, int | float):
            moment = datetime(2000, 1, 1, tzinfo=UTC) + timedelta(minutes=float(value))
            out[name] = moment.astimezone(zone).strftime("%H:%M")
        else:
            out[name] = value
    return out


def render_text(code: str, params: dict[str, Any], lang: str, zone: ZoneInfo, fallback: str) -> str:
    """A message from its code and numbers in ``lang`` and ``zone``; ``fallback`` (the
    English the code wrote) when the catalog holds no template that fits."""
    form = params.get("form")
    templates = catalog(lang)
    template = templates.get(f"{code}/{form}") if form else None
    template = template or templates.get(code)
    if not template or not params:
        return fallback
    values = _localised(params, zone)
    if "misconduct_patterns" in params:
        values["misconduct_names"] = "、".join(label("pattern", p, lang)
                                              for p in str(params["misconduct_patterns"]).split(",") if p)
    try:
        return template.format(**values)
    except (KeyError, ValueError, IndexError, TypeError):
        return fallback


def render(reason: Reason, lang: str, zone: ZoneInfo) -> Reason:
    """The reason with its message in ``lang`` and ``zone`` (unchanged when no template fits)."""
    message = render_text(reason.code, reason.params, lang, zone, reason.message)
    return reason if message == reason.message else msgspec.structs.replace(reason, message=message)
