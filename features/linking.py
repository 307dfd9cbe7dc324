"""What links a session to other accounts' sessions: its network, its browser build, when
it really played, when a person acted, and its pauses and seeks.

Every value here is kept small (it travels in each session's summary) and is computed
once per session. The detectors that compare sessions are in ``detector/linking``.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

import msgspec

from learnguard.features.session import FAILED, PASSED, Gesture, SessionState

PLAYING_JOIN_S = 120.0  # credited playback this close together is one stretch
MAX_PLAYING = 24        # stretches kept per session
MAX_ANSWERS = 16        # challenge answer times kept per session


class LinkFacts(msgspec.Struct, array_like=True, omit_defaults=True):
    """One session's linking facts (part of its summary)."""

    network: str = ""
    browser: str = ""
    playing: list[list[float]] = msgspec.field(default_factory=list)
    acted: list[int] = msgspec.field(default_factory=list)
    gestures: list[Gesture] = msgspec.field(default_factory=list)
    fetched: list[int] = msgspec.field(default_factory=list)   # 5-minute buckets with media delivered (v1.1)
    answers: list[float] = msgspec.field(default_factory=list)  # when challenge answers reached the platform
    graded: int = 0      # checkpoint challenges answered in time, ...
    right: int = 0       # ... how many of them right, ...
    chance: float = 0.0  # ... and how many guessing would get right on average
    missed_playing: int = 0  # challenges missed while playback went on, ...
    resolved: int = 0        # ... of the challenges passed, failed or missed


def network_of(ip: str | None) -> str:
    """The network an address sits in: its /24 (IPv4) or /48 (IPv6); '' when unknown.

    >>> network_of("10.3.7.200"), network_of("2001:db8:1:2::5"), network_of("not an ip")
    ('10.3.7.0/24', '2001:db8:1::/48', '')
    """
    if not ip:
        return ""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ""
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


@lru_cache(maxsize=4096)
def browser_of(user_agent: str) -> str:
    """A browser build as ua-parser names it: family and major version, OS, and the device
    model for phones (cloned machines and browser profiles of one machine share it).

    >>> browser_of("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0")
    'Firefox 121 · Windows 10'
    """
    if not user_agent:
        return ""
    from ua_parser import parse

    parsed = parse(user_agent)
    agent, system, device = parsed.user_agent, parsed.os, parsed.device
    name = f"{agent.family} {agent.major}" if agent and agent.major else (agent.family if agent else "Other")
    os_name = f"{system.family} {system.major}" if system and system.major else (system.family if system else "")
    model = f" · {device.family}" if device and device.family not in ("Other", "Spider", "Mac") else ""
    return f"{name} · {os_name}{model}".strip(" ·")


def playing_stretches(credited_wall: list[list[float]]) -> list[list[float]]:
    """Wall-clock stretches of credited playback, joined across short gaps and capped.

    >>> playing_stretches([[0, 100], [150, 300], [1000, 1100]])
    [[0.0, 300.0], [1000.0, 1100.0]]
    """
    out: list[list[float]] = []
    for start, end in credited_wall:
        if out and start - out[-1][1] <= PLAYING_JOIN_S:
            out[-1][1] = max(out[-1][1], float(round(end)))
        else:
            out.append([float(round(start)), float(round(end))])
    if len(out) > MAX_PLAYING:  # join the closest neighbours until it fits
        while len(out) > MAX_PLAYING:
            gaps = [out[i + 1][0] - out[i][1] for i in range(len(out) - 1)]
            i = gaps.index(min(gaps))
            out[i:i + 2] = [[out[i][0], out[i + 1][1]]]
    return out


def link_facts(state: SessionState, ip: str | None, missed_playing: int = 0, resolved: int = 0) -> LinkFacts:
    """The facts of a finalised session (``missed_playing`` and ``resolved``: its challenges,
    as verification counted them)."""
    answers = sorted(c.answered_at for c in state.challenges.values() if c.answered_at >= 0)[:MAX_ANSWERS]
    graded = [c for c in state.challenges.values() if c.options >= 2 and c.outcome in (PASSED, FAILED)]
    return LinkFacts(network=network_of(ip), browser=browser_of(state.user_agent),
                     playing=playing_stretches(state.credited_wall), acted=sorted(state.acted),
                     gestures=[msgspec.structs.replace(g) for g in state.gestures],
                     fetched=sorted(state.fetched), answers=answers,
                     graded=len(graded), right=sum(c.outcome == PASSED for c in graded),
                     chance=round(sum(1 / c.options for c in graded), 4), missed_playing=missed_playing,
                     resolved=resolved)
