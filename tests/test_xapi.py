"""xAPI in (issue 12): statements from clients no one here wrote — the ``tincan`` library's
RemoteLRS, and Ralph's conversions of Open edX tracking logs — become contract events that
the detectors read; bad statements get xAPI-style 400s naming the statement and field."""

from __future__ import annotations

import base64
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from tincan import (
    Activity,
    ActivityDefinition,
    Agent,
    AgentAccount,
    Context,
    ContextActivities,
    Extensions,
    RemoteLRS,
    Result,
    Statement,
    StatementList,
    Verb,
)

VIDEO = "https://w3id.org/xapi/video/"
EXT = VIDEO + "extensions/"
COURSE = "https://lms.example.edu.cn/courses/party-history-2026"
MOVIE = "https://lms.example.edu.cn/videos/lecture-1"
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def _statement(learner: str, session: str, verb: str, at: datetime, result: dict[str, Any] | None = None,
               context: dict[str, Any] | None = None) -> Statement:
    verbs = {"initialized": "http://adlnet.gov/expapi/verbs/initialized", "played": VIDEO + "verbs/played",
             "paused": VIDEO + "verbs/paused", "seeked": VIDEO + "verbs/seeked",
             "progressed": "http://adlnet.gov/expapi/verbs/progressed",
             "completed": "http://adlnet.gov/expapi/verbs/completed",
             "terminated": "http://adlnet.gov/expapi/verbs/terminated"}
    return Statement(
        actor=Agent(account=AgentAccount(name=learner, home_page="https://lms.example.edu.cn")),
        verb=Verb(id=verbs[verb]),
        object=Activity(id=MOVIE, definition=ActivityDefinition(type=VIDEO + "activity-type/video")),
        result=Result(extensions=Extensions({EXT + k: v for k, v in (result or {}).items()})) if result else None,
        context=Context(
            context_activities=ContextActivities(parent=[Activity(id=COURSE, definition=ActivityDefinition(
                type="http://adlnet.gov/expapi/activities/course"))]),
            extensions=Extensions({EXT + "session-id": session, EXT + "length": 600.0,
                                   **{EXT + k: v for k, v in (context or {}).items()}})),
        timestamp=at.isoformat())


def person(learner: str, session: str) -> list[Statement]:
    """Twelve minutes on a ten-minute lecture: a pause, a seek back, the end."""
    out = [_statement(learner, session, "initialized", T0),
           _statement(learner, session, "played", T0 + timedelta(seconds=2), {"time": 0.0}, {"speed": "1x"})]
    for n in range(1, 10):
        out.append(_statement(learner, session, "progressed", T0 + timedelta(seconds=2 + 30 * n), {"time": 30.0 * n}))
    out += [_statement(learner, session, "paused", T0 + timedelta(seconds=300), {"time": 298.0}),
            _statement(learner, session, "seeked", T0 + timedelta(seconds=340), {"time-from": 298.0, "time-to": 250.0}),
            _statement(learner, session, "played", T0 + timedelta(seconds=341), {"time": 250.0})]
    for n in range(1, 13):
        out.append(_statement(learner, session, "progressed", T0 + timedelta(seconds=341 + 30 * n),
                              {"time": 250.0 + 30 * n}))
    out += [_statement(learner, session, "completed", T0 + timedelta(seconds=700), {"time": 600.0}),
            _statement(learner, session, "terminated", T0 + timedelta(seconds=702), {"time": 600.0})]
    return out


def bot(learner: str, session: str) -> list[Statement]:
    """A userscript: muted, 16×, the lecture 'watched' in under a minute."""
    out = [_statement(learner, session, "initialized", T0),
           _statement(learner, session, "played", T0 + timedelta(seconds=1), {"time": 0.0},
                      {"speed": "16x", "volume": 0.0})]
    for n in range(1, 8):
        out.append(_statement(learner, session, "progressed", T0 + timedelta(seconds=1 + 5 * n), {"time": 80.0 * n}))
    out += [_statement(learner, session, "completed", T0 + timedelta(seconds=40), {"time": 600.0}),
            _statement(learner, session, "terminated", T0 + timedelta(seconds=41), {"time": 600.0})]
    return out


def test_tincan_remote_lrs_statements_are_scored_like_events(service) -> None:
    lrs = RemoteLRS(endpoint=service.url + "/xapi/", version="1.0.3", username="hdu-platform",
                    password=service.keys["platform"])
    honest, userscript = str(uuid.uuid4()), str(uuid.uuid4())
    sent = StatementList(person("cadre-x1", honest) + bot("cadre-x2", userscript))
    saved = lrs.save_statements(sent)
    assert saved.success, saved.data
    ids = [str(s.id) for s in saved.content]
    assert len(ids) == len(sent) and all(uuid.UUID(i) for i in ids)
    again = lrs.save_statements(StatementList(person("cadre-x1", honest)))  # a retry: nothing counted twice
    assert again.success and again.response.getheader("X-LearnGuard-Events-Accepted") == "0"
    assert int(again.response.getheader("X-LearnGuard-Events-Duplicate")) == len(person("cadre-x1", honest)) + 1

    with service.client("platform") as http:
        good = http.post(f"/v1/sessions/{honest}/score").json()
        bad = http.post(f"/v1/sessions/{userscript}/score").json()
    assert good["flags"] == [], good["flags"]
    assert good["effective_seconds"] >= 550
    assert bad["flags"], "a muted 16x session must be flagged"
    assert bad["effective_seconds"] < 100 < bad["claimed_seconds"]
    assert bad["risk"] > good["risk"]


def test_ralph_conversions_of_open_edx_logs_are_read(service) -> None:
    from ralph.models.converter import Converter
    from ralph.models.selector import ModelSelector

    def line(kind: str, event: dict[str, Any], seconds: int) -> str:
        return json.dumps({
            "username": "cadre-edx", "event_source": "browser", "name": kind, "event_type": kind,
            "time": (T0 + timedelta(seconds=seconds)).isoformat(), "ip": "10.1.2.3", "agent": "Mozilla/5.0",
            "host": "lms.example.edu.cn", "referer": "https://lms.example.edu.cn/courses/x", "accept_language": "zh",
            "page": "https://lms.example.edu.cn/courses/course-v1:HDU+PARTY101+2026/courseware",
            "session": "0123456789abcdef0123456789abcdef",
            "context": {"course_id": "course-v1:HDU+PARTY101+2026", "org_id": "HDU", "user_id": 42, "path": "/event"},
            "event": {"id": "vid1", "code": "html5", "duration": 600.0, **event}})

    log = [line("load_video", {}, 0), line("play_video", {"currentTime": 0.0}, 1)]
    log += [line("pause_video", {"currentTime": 120.0}, 121), line("play_video", {"currentTime": 120.0}, 150),
            line("seek_video", {"old_time": 200.0, "new_time": 150.0, "type": "onSlideSeek"}, 230),
            line("stop_video", {"currentTime": 600.0}, 700)]
    converter = Converter(model_selector=ModelSelector(module="ralph.models.edx"), platform_url="https://lms.example.edu.cn",
                          uuid_namespace="ee241f8b-174f-5bdb-bae9-c09de5fe017f")
    statements = [json.loads(s) for s in converter.convert(io.StringIO("\n".join(log) + "\n"), False, False)]
    assert len(statements) == len(log)
    headers = {"X-Experience-API-Version": "1.0.0",
               "Authorization": "Basic " + base64.b64encode(f"edx:{service.keys['platform']}".encode()).decode()}
    with httpx.Client(base_url=service.url, timeout=30) as http:
        answer = http.post("/xapi/statements", json=statements, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json() == [s["id"] for s in statements]
        assert answer.headers["X-LearnGuard-Events-Accepted"] == str(len(log) + 1)  # stop: pause + session end
    session = "01234567-89ab-cdef-0123-456789abcdef"
    with service.client("admin") as http:
        score = http.post(f"/v1/sessions/{session}/score").json()
        timeline = http.get(f"/v1/sessions/{session}/timeline").json()
    assert timeline["course_id"] == "course-v1:HDU+PARTY101+2026" and timeline["learner_id"] == "42"
    assert score["claimed_seconds"] > 0
    kinds = [p["type"] for p in timeline["points"]]
    assert {"video_play", "video_pause", "video_seek"} <= set(kinds), kinds


def _post(http: httpx.Client, body: Any, version: str | None = "1.0.3") -> httpx.Response:
    headers = {"X-Experience-API-Version": version} if version else {}
    return http.post("/xapi/statements", content=json.dumps(body), headers=headers)


def test_bad_statements_are_refused_whole_naming_the_field(service) -> None:
    session = str(uuid.uuid4())
    good = [s.as_version("1.0.3") for s in person("cadre-x3", session)[:3]]
    with service.client("platform") as http:
        assert _post(http, good, version=None).status_code == 400
        assert "X-Experience-API-Version" in _post(http, good, version=None).json()["error"]
        broken = [*good, {**good[0], "verb": {"id": 7}}]
        answer = _post(http, broken)
        assert answer.status_code == 400 and "statement 3: verb.id" in answer.json()["error"], answer.text
        zero = json.loads(json.dumps(good))
        zero[1]["context"]["extensions"][EXT + "speed"] = "0x"
        answer = _post(http, zero)
        assert answer.status_code == 400, answer.text
        assert "statement 1" in answer.json()["error"] and "rate" in answer.json()["error"]
        assert http.post(f"/v1/sessions/{session}/score").status_code == 404, "nothing of a refused batch is stored"

        unknown = {**good[0], "id": str(uuid.uuid4()), "verb": {"id": "http://example.com/verbs/frobnicated"}}
        answer = _post(http, [*good, unknown])
        assert answer.status_code == 200 and answer.headers["X-LearnGuard-Statements-Ignored"] == "1"
        assert answer.headers["X-LearnGuard-Events-Accepted"] == "3"
        kept = service.store.voids.ignored()[0]  # stored and ignored: an operator can see what came
        assert kept["id"] == unknown["id"] and "frobnicated" in kept["why"] and "frobnicated" in kept["statement"]

        later = {**good[0], "id": str(uuid.uuid4()), "timestamp": (T0 + timedelta(seconds=5)).isoformat(),
                 "verb": {"id": VIDEO + "verbs/paused"}, "result": {"extensions": {EXT + "time": 3.0}}}
        voiding = {"actor": good[0]["actor"], "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
                   "object": {"objectType": "StatementRef", "id": later["id"]}}
        assert _post(http, [voiding]).status_code == 200
        answer = _post(http, [later])
        assert answer.status_code == 200 and answer.headers["X-LearnGuard-Statements-Voided"] == "1"
        assert answer.headers["X-LearnGuard-Events-Accepted"] == "0"

        put = http.put("/xapi/statements", params={"statementId": str(uuid.uuid4())},
                       content=json.dumps({**good[0], "id": str(uuid.uuid4())}),
                       headers={"X-Experience-API-Version": "1.0.3"})
        assert put.status_code == 400 and "statementId" in put.json()["error"]
        fresh = {**good[0]}
        fresh.pop("id", None)
        sid = str(uuid.uuid4())
        put = http.put("/xapi/statements", params={"statementId": sid}, content=json.dumps(fresh),
                       headers={"X-Experience-API-Version": "1.0.3"})
        assert put.status_code == 204, put.text
    with service.client("supervisor") as http:
        assert _post(http, good).status_code == 403
    with httpx.Client(base_url=service.url) as http:
        wrong = {"Authorization": "Basic " + base64.b64encode(b"x:not-a-key").decode(),
                 "X-Experience-API-Version": "1.0.3"}
        assert http.post("/xapi/statements", json=good, headers=wrong).status_code == 401
        assert http.get("/xapi/about").json() == {"version": ["1.0.3"]}


@pytest.mark.parametrize("iri, expected", [
    ("https://lms.example/courses/c1", "lms.example:courses:c1"),
    ("urn:uuid:0b9e", "urn:uuid:0b9e"),
])
def test_iris_become_contract_ids(iri: str, expected: str) -> None:
    from learnguard.features.xapi import iri_id

    assert iri_id(iri) == expected
    assert len(iri_id("https://x/" + "y" * 300)) == 128
