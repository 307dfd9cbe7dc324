"""The challenges the service issued to each session, and the first answer to each, as
the API sees them (a hash per session, on the session's shard).

The endpoint reads it to decide the next challenge (deterministic, no worker lag: answers
are recorded here at ingest); ingest reads it to refuse answers to challenges that were
never issued to the session. The worker grades from the session's stream, where each
issued challenge is a ``challenge_issued`` event.
"""

from __future__ import annotations

from typing import cast

import msgspec
import redis

from learnguard.detector.challenges import Answered, Issued
from learnguard.detector.records import SessionRecord
from learnguard.service.keys import Keys
from learnguard.service.sessions import SessionIndex

_encode = msgspec.msgpack.Encoder().encode
_decode_issued = msgspec.msgpack.Decoder(Issued).decode
_decode_answered = msgspec.msgpack.Decoder(Answered).decode
ANSWER = "ans:"


class ChallengeBook:
    """Issued challenges and first answers, per session."""

    def __init__(self, client: redis.Redis, keys: Keys, sessions: SessionIndex) -> None:
        self.client = client
        self.keys = keys
        self.sessions = sessions

    def of(self, shard: int, session_id: str) -> tuple[list[Issued], dict[str, Answered]]:
        raw = cast(dict[bytes, bytes], self.client.hgetall(self.keys.challenges(shard, session_id)))
        return _split(raw)

    def with_record(self, shard: int, session_id: str
                    ) -> tuple[SessionRecord | None, list[Issued], dict[str, Answered]]:
        """The session's record and its challenges in one round trip."""
        pipe = self.client.pipeline(transaction=False)
        pipe.get(self.keys.session(shard, session_id))
        pipe.hgetall(self.keys.challenges(shard, session_id))
        raw_record, raw_challenges = pipe.execute()
        issued, answers = _split(raw_challenges)
        return self.sessions.decode_records({session_id: raw_record}).get(session_id), issued, answers

    def record_issue(self, shard: int, session_id: str, challenge: Issued) -> bool:
        """False when a concurrent call issued this very challenge first."""
        return bool(self.client.hsetnx(self.keys.challenges(shard, session_id), challenge.challenge_id,
                                       _encode(challenge)))

    def check_answers(self, asks: list[tuple[int, str, str]]) -> list[bool]:
        """Whether each (shard, session, challenge id) was issued to that session; one round trip."""
        pipe = self.client.pipeline(transaction=False)
        for shard, session_id, challenge_id in asks:
            pipe.hexists(self.keys.challenges(shard, session_id), challenge_id)
        return [bool(x) for x in pipe.execute()] if asks else []

    def record_answers(self, answers: list[tuple[int, str, str, Answered]]) -> None:
        """The first answer to each challenge (later ones are duplicates); one round trip."""
        pipe = self.client.pipeline(transaction=False)
        for shard, session_id, challenge_id, answered in answers:
            pipe.hsetnx(self.keys.challenges(shard, session_id), ANSWER + challenge_id, _encode(answered))
        if answers:
            pipe.execute()


def _split(raw: dict[bytes, bytes]) -> tuple[list[Issued], dict[str, Answered]]:
    issued: list[Issued] = []
    answers: dict[str, Answered] = {}
    for field, value in raw.items():
        name = field.decode()
        if name.startswith(ANSWER):
            answers[name[len(ANSWER):]] = _decode_answered(value)
        else:
            issued.append(_decode_issued(value))
    return sorted(issued, key=lambda c: c.at), answers
