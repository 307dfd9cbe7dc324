"""``scripted_playback``: study time that no person produced (physics + absence of a person)."""

from __future__ import annotations

from learnguard.detector.base import Flag, SessionView, combine
from learnguard.detector.person import person_evidence
from learnguard.detector.physics import physics_evidence
from learnguard.detector.verification import challenge_evidence, delivery_evidence
from learnguard.features.session import watched_media_seconds


class ScriptedPlaybackDetector:
    pattern = "scripted_playback"

    def detect(self, view: SessionView) -> list[Flag]:
        evidence = physics_evidence(view) + person_evidence(view) + challenge_evidence(view.state, view.thresholds) \
            + delivery_evidence(view.state, view.course, view.cohort, view.thresholds)
        state = view.state
        return combine(state.session_id, self.pattern, evidence, state.first_ts, state.last_ts,
                       suspect_media_seconds=watched_media_seconds(state))
