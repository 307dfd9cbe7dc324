"""One contract suite for every detector and model (STYLE 6), as river's ``check_estimator``
and pyod's tests do: each declares small seeded inputs, the shared checks run on all."""

from __future__ import annotations

import functools
import math
import random

import msgspec
import numpy as np
import pytest
from river import checks

from learnguard.detector.base import Detector, Evidence, Flag, Reason, SessionView, combine, flag_id_for
from learnguard.detector.context import with_context
from learnguard.detector.offline import run_offline
from learnguard.detector.policy import PATTERNS, Rules
from learnguard.detector.records import summary_of
from learnguard.detector.scoring import default_detectors, evaluate_session
from learnguard.features.course import CourseInfo
from learnguard.features.session import SessionState, finalized
from learnguard.features.vector import FEATURE_NAMES, session_features
from learnguard.models.batch import KINDS, SessionModel, matrix
from learnguard.models.cohort import CohortBaseline
from learnguard.models.online import OnlineSessionModel
from learnguard.simulator.cohort import simulate_cohort

COURSE = CourseInfo(described=False, max_rate=2.0)


@functools.cache
def seeded_run():
    """A small simulated cohort, run through the offline pipeline once for the whole module."""
    cohort = simulate_cohort(learners=30, seed=11, course_id="contract")
    return cohort, run_offline(cohort.events, COURSE)


def views() -> list[SessionView]:
    cohort, run = seeded_run()
    return [SessionView(state=state, course=COURSE, features=session_features(state))
            for state in list(run.states.values())[:120]]


def _assert_explained(flags: list[Flag], pattern: str) -> None:
    for flag in flags:
        assert flag.pattern == pattern
        assert flag.flag_id.startswith("f-")
        assert 0 < flag.confidence < 1
        assert flag.reasons, "a flag without a reason accuses without evidence"
        for reason in flag.reasons:
            assert reason.code and reason.message
            assert math.isfinite(reason.value) and math.isfinite(reason.threshold)


@pytest.mark.parametrize("detector", default_detectors(), ids=lambda d: d.pattern)
def test_session_detectors_keep_the_detector_contract(detector: Detector) -> None:
    assert detector.pattern in PATTERNS
    empty = SessionState("s0", "l0", "org", "c0")
    done = finalized(empty, Rules().playback(COURSE))
    assert detector.detect(SessionView(state=done, course=COURSE, features=session_features(done))) == []
    flagged = 0
    for view in views():
        before = msgspec.msgpack.encode(view)
        first, second = detector.detect(view), detector.detect(view)
        assert msgspec.msgpack.encode(view) == before, "detect must not change what it reads"
        assert first == second, "detect must be deterministic"
        _assert_explained(first, detector.pattern)
        for flag in first:
            assert flag.flag_id == flag_id_for(view.state.session_id, detector.pattern)
        flagged += bool(first)
    assert flagged, f"{detector.pattern} flagged nothing in a cohort with cheaters (seed 11)"


def test_context_detectors_keep_the_contract() -> None:
    _, run = seeded_run()
    by_device: dict[str, dict] = {}
    for lc in run.learner_courses.values():
        for sid, summary in lc.sessions.items():
            if summary.device:
                by_device.setdefault(summary.device, {})[sid] = summary
    rules = Rules()
    for lc in list(run.learner_courses.values())[:40]:
        for sid, summary in lc.sessions.items():
            base = run.scores[sid]
            own = msgspec.structs.replace(base, flags=[f for f in base.flags if f.pattern in
                                                       ("scripted_playback", "screen_flooding")])
            once = with_context(sid, own, summary, lc, by_device.get(summary.device or "", {}), COURSE,
                                rules.thresholds)
            again = with_context(sid, own, summary, lc, by_device.get(summary.device or "", {}), COURSE,
                                 rules.thresholds)
            assert once == again
            for flag in once.flags:
                _assert_explained([flag], flag.pattern)


def test_weak_signs_alone_never_make_a_flag() -> None:
    weak = [Evidence(Reason("muted_from_first_frame", "muted", 1.0, 1.0), 0.25, False),
            Evidence(Reason("no_seek_no_pause", "no seeks", 0.0, 0.0), 0.15, False)]
    assert combine("s", "scripted_playback", weak, 0.0, 1.0) == []
    strong = weak + [Evidence(Reason("untrusted_input", "script input", 5.0, 3.0), 0.7, True)]
    (flag,) = combine("s", "scripted_playback", strong, 0.0, 1.0)
    assert flag.reasons[0].code == "untrusted_input"


def test_the_pipeline_summary_agrees_with_the_score() -> None:
    _, run = seeded_run()
    for lc in list(run.learner_courses.values())[:20]:
        for sid, summary in lc.sessions.items():
            state = run.states[sid]
            score, _ = evaluate_session(state, COURSE, default_detectors(), Rules())
            expected = summary_of(state, score)
            assert (summary.first_ts, summary.last_ts, summary.device) == (expected.first_ts, expected.last_ts,
                                                                           expected.device)


# -- river: the online model is held to river's own checks ------------------------------------
def _anomaly_stream(seed: int = 3, n: int = 400) -> list[tuple[dict[str, float], int]]:
    rng = random.Random(seed)
    stream = []
    for i in range(n):
        odd = i > 50 and rng.random() < 0.05
        x = {name: (rng.uniform(0.8, 1.0) if odd else rng.uniform(0.0, 0.3)) for name in "abcdefgh"}
        stream.append((x, int(odd)))
    return stream


def _river_checks():
    model = OnlineSessionModel()
    for check in checks.yield_checks(model):
        if isinstance(check, functools.partial) and "dataset" in check.keywords:
            yield pytest.param(functools.partial(check.func, dataset=_anomaly_stream()), id=check.func.__name__)
        else:
            yield pytest.param(check, id=getattr(check, "__name__", str(check)))


@pytest.mark.parametrize("check", list(_river_checks()))
def test_the_online_model_passes_rivers_checks(check) -> None:
    check(OnlineSessionModel().clone())


def test_the_online_model_scores_floats_and_learns_in_place() -> None:
    model = OnlineSessionModel()
    assert isinstance(model.score_one({"a": 1.0}), float)
    assert model.learn_one({"a": 1.0}) is None and model.sessions == 1
    with pytest.raises(ValueError, match="height"):
        OnlineSessionModel(height=0)


def test_a_cohort_baseline_only_learns_what_it_is_taught() -> None:
    cohort = CohortBaseline()
    cohort.score_one({"check_latency_mean_s": 0.1})
    assert cohort.sessions == 0
    cohort.learn_one({"check_latency_mean_s": 3.0, "check_answers": 3.0})
    assert cohort.sessions == 1 and CohortBaseline.loads(cohort.dumps()).sessions == 1


# -- pyod: the batch models keep pyod's contract -----------------------------------------------------
def _rows(seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = random.Random(seed)
    normal = [{n: rng.gauss(10, 1) for n in FEATURE_NAMES} for _ in range(400)]
    odd = [{n: rng.gauss(60, 5) for n in FEATURE_NAMES} for _ in range(20)]
    return matrix(normal + odd), np.array([0] * 400 + [1] * 20)


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "semi"])
def test_batch_models_keep_pyods_contract(kind: str) -> None:
    from sklearn.metrics import roc_auc_score

    X, y = _rows()
    model = SessionModel(kind)
    assert model.fit(X) is model
    fitted = [name for name in vars(model) if name.endswith("_")]
    assert fitted and hasattr(model, "threshold_")
    scores = model.decision_function(X)
    assert scores.shape == (len(X),)
    proba = model.predict_proba(X)
    assert ((proba >= 0) & (proba <= 1)).all()
    assert set(np.unique(model.predict(X))) <= {0, 1}
    assert roc_auc_score(y, scores) >= 0.9, "quality floor on a seeded set with clear outliers"


def test_a_bad_model_parameter_is_named() -> None:
    with pytest.raises(ValueError, match="kind"):
        SessionModel("svm")
