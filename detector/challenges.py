"""When the service challenges a session, and with what (contract v1.1 §10).

Everyone meets a baseline — about one challenge per ``BASELINE_EVERY_S`` of a session,
like the random pop-up questions platforms already show — and a session whose risk or
weak signs rise meets one per ``ESCALATED_EVERY_S``; never more than the course's
``max_challenges_per_hour``. The schedule is a pure function of the session id, the
challenges issued so far, the session's first event time, ``at`` and whether it is
escalated, with a jitter drawn from a hash of the session and the challenge's number: a
replay (or an evaluation) with the same events and ``at`` gets the same challenges, and a
cheater who reads this cannot tell the minute of the next one.
"""

from __future__ import annotations

import hashlib
from typing import Literal

import msgspec

from learnguard.features.course import Checkpoint

BASELINE_EVERY_S = 1800.0    # one per ~30 min for everyone (platforms: one per 15–30 min)
ESCALATED_EVERY_S = 480.0    # one per ~8 min once a session looks scripted
FIRST_AFTER_S = 600.0        # nobody is challenged in their first ~10 minutes
EXPIRES_IN_S = 90.0
CONTENT_WINDOW_S = 600.0     # a checkpoint fits when it was shown in the last ~10 min of media
ESCALATE_FROM_RISK = 0.3
CHALLENGE_PREFIX = "ch-"     # ids of the service's challenges (answers to others are the platform's own checks)


class Issued(msgspec.Struct, array_like=True):
    """A challenge the service issued to a session (kept beside the session, and sent to the
    session's stream as a ``challenge_issued`` server event so the worker grades answers)."""

    challenge_id: str
    at: float
    kind: Literal["checkpoint", "presence"]
    item_id: str = ""
    expires_in_s: float = EXPIRES_IN_S
    answer: int = -1          # the right choice (never shown to the platform)
    options: int = 0
    prompt_chars: int = 0


class Answered(msgspec.Struct, array_like=True):
    """The first answer to a challenge, as ingest saw it (platform-server clock)."""

    received_at: float
    choice: int


def went_wrong(issued: list[Issued], answers: dict[str, Answered], at: float) -> bool:
    """Whether the latest challenge settled before ``at`` was missed, answered late or failed
    (the session then meets challenges more often, until one goes right again).

    >>> c = Issued("ch-1", at=100.0, kind="checkpoint", answer=2, options=4)
    >>> went_wrong([c], {}, 150.0), went_wrong([c], {}, 300.0), went_wrong([c], {"ch-1": Answered(110.0, 1)}, 300.0)
    (False, True, True)
    >>> went_wrong([c], {"ch-1": Answered(110.0, 2)}, 300.0)
    False
    """
    for challenge in sorted(issued, key=lambda c: -c.at):
        expiry = challenge.at + challenge.expires_in_s
        answered = answers.get(challenge.challenge_id)
        if challenge.at > at or (answered is None and at <= expiry):
            continue  # not settled yet
        if answered is None or answered.received_at > expiry:
            return True
        return challenge.options >= 2 and answered.choice != challenge.answer
    return False


def _unit(*parts: object) -> float:
    """A number in [0, 1) from a hash of ``parts`` (deterministic, not guessable without them)."""
    digest = hashlib.blake2b("\x00".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def challenge_id_for(session_id: str, number: int) -> str:
    """The id of a session's ``number``-th challenge (the same on every replay).

    >>> challenge_id_for("s1", 0) == challenge_id_for("s1", 0) != challenge_id_for("s1", 1)
    True
    """
    return CHALLENGE_PREFIX + hashlib.blake2b(f"{session_id}\x00{number}".encode(), digest_size=8).hexdigest()


def interval_s(session_id: str, number: int, escalated: bool) -> float:
    """Seconds from the previous challenge (or the session's start) to challenge ``number``:
    the base interval × a jitter in [0.6, 1.4)."""
    base = ESCALATED_EVERY_S if escalated else BASELINE_EVERY_S
    return base * (0.6 + 0.8 * _unit(session_id, number, "interval"))


def challenge_due(session_id: str, first_ts: float, at: float, issued: list[Issued], escalated: bool,
                  max_per_hour: int) -> bool:
    """Whether a challenge is due at ``at``.

    >>> challenge_due("s1", 0.0, 60.0, [], escalated=False, max_per_hour=4)
    False
    >>> challenge_due("s1", 0.0, 4 * 3600.0, [], escalated=False, max_per_hour=4)
    True
    """
    if at - first_ts < FIRST_AFTER_S:
        return False
    if any(c.at <= at < c.at + c.expires_in_s for c in issued):
        return False  # one pending at a time
    if sum(at - 3600.0 < c.at <= at for c in issued) >= max_per_hour:
        return False
    since = max((c.at for c in issued if c.at <= at), default=first_ts)
    return at - since >= interval_s(session_id, len(issued), escalated)


def fitting_checkpoint(checkpoints: list[Checkpoint], video_id: str | None, position: float | None,
                       session_id: str, number: int) -> Checkpoint | None:
    """A checkpoint of the video being played whose ``after_position`` was shown in the last
    ~10 minutes of media before ``position`` (one of them, chosen by hash), or None."""
    if video_id is None or position is None:
        return None
    fits = [c for c in checkpoints if c.video_id == video_id and position - CONTENT_WINDOW_S <= c.after_position
            <= position]
    if not fits:
        return None
    return fits[int(_unit(session_id, number, "checkpoint") * len(fits))]


def issue(session_id: str, at: float, issued: list[Issued], checkpoints: list[Checkpoint],
          video_id: str | None, position: float | None) -> tuple[Issued, Checkpoint | None]:
    """The next challenge of a session (call when ``challenge_due``)."""
    number = len(issued)
    checkpoint = fitting_checkpoint(checkpoints, video_id, position, session_id, number)
    challenge = Issued(challenge_id=challenge_id_for(session_id, number), at=at,
                       kind="checkpoint" if checkpoint else "presence",
                       item_id=checkpoint.item_id if checkpoint else "",
                       answer=checkpoint.answer if checkpoint else -1,
                       options=len(checkpoint.choices) if checkpoint else 0,
                       prompt_chars=(len(checkpoint.prompt) + sum(len(c) for c in checkpoint.choices))
                       if checkpoint else 0)
    return challenge, checkpoint
