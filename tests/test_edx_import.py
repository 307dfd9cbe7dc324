"""Open edX in (issue 12): ``learnguard import edx`` reads tracking logs (plain or .gz) into
contract events sent through the client; bad lines are skipped and counted; a second
import adds nothing; ids can be pseudonymised. And the client itself: batches resent on
503 and on a lost answer, nothing lost and nothing counted twice."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from learnguard.cli import app
from learnguard.client import LearnGuardClient

pytestmark = [pytest.mark.integration]
T0 = datetime(2026, 3, 3, 1, 0, tzinfo=UTC)
COURSE = "course-v1:HDU+PARTY101+2026"


def _line(user: str, session: str, kind: str, seconds: float, event: dict[str, Any] | str,
          source: str = "browser") -> str:
    return json.dumps({
        "username": f"user-{user}", "event_source": source, "event_type": kind, "name": kind,
        "time": (T0 + timedelta(seconds=seconds)).isoformat(), "ip": "10.2.3.4", "agent": "Mozilla/5.0 (X11)",
        "host": "lms.example.edu.cn", "session": session, "page": "https://lms.example.edu.cn/courseware",
        "context": {"course_id": COURSE, "user_id": user, "org_id": "HDU", "path": "/event"},
        "event": event if isinstance(event, dict) else event})


def tracking_log() -> list[str]:
    video = {"id": "lecture-1", "code": "html5", "duration": 600.0}
    honest = [("load_video", 0, {**video}), ("play_video", 2, {**video, "currentTime": 0.0}),
              ("pause_video", 302, {**video, "currentTime": 300.0}),
              ("play_video", 340, json.dumps({**video, "currentTime": 300.0})),  # browsers send a JSON string
              ("seek_video", 440, {**video, "old_time": 400.0, "new_time": 370.0, "type": "onSlideSeek"}),
              ("stop_video", 672, {**video, "currentTime": 600.0}),
              ("seq_goto", 680, {"old": 1, "new": 2, "id": "block-v1:HDU+PARTY101+2026+type@sequential"}),
              ("link_clicked", 690, {"current_url": "x", "target_url": "https://lms.example.edu.cn/wiki"}),
              ("page_close", 700, {})]
    bot = [("load_video", 0, {**video}), ("play_video", 1, {**video, "currentTime": 0.0}),
           ("speed_change_video", 2, {**video, "current_time": 1.0, "old_speed": "1.0", "new_speed": "16"}),
           ("stop_video", 40, {**video, "currentTime": 600.0})]
    lines = [_line("1001", "s-honest-a", kind, t, e) for kind, t, e in honest]
    lines += [_line("1002", "s-bot-b", kind, t, e) for kind, t, e in bot]
    lines += [_line("1001", "", "problem_check", 710, {"problem_id": "block-v1:HDU+PARTY101+2026+type@problem+block@q1",
                                                      "success": "correct", "grade": 1, "max_grade": 1}, "server"),
              _line("1001", "s-honest-a", "problem_check", 709, "input_q1=2"),  # the browser's half
              "this line is not JSON {",
              _line("1001", "s-honest-a", "edx.forum.thread.created", 720, {"title": "hi"}),
              json.dumps({"event_type": "play_video", "time": T0.isoformat(), "context": {"user_id": "9"},
                          "event": {"id": "v", "currentTime": 0}}),
              ""]
    return lines


def test_tracking_logs_are_imported_scored_and_counted(service, tmp_path: Path) -> None:
    log = tmp_path / "tracking.log.gz"
    with gzip.open(log, "wt") as sink:
        sink.write("\n".join(tracking_log()) + "\n")
    runner = CliRunner()
    args = ["import", "edx", str(log), "--org", "zhejiang/hdu", "--url", service.url, "--key", service.keys["platform"]]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    out = " ".join(first.output.split())
    assert "Open edX import: 18 lines" in out
    assert "→ video_play │ 3" in out and "→ quiz_answer │ 1" in out and "→ session_end │ 1" in out
    assert "skipped: not a JSON tracking-log object │ 1" in out
    assert "skipped: event type edx.forum.thread.created not read │ 1" in out
    assert "skipped: play_video: no context.course_id │ 1" in out
    assert "skipped: problem_check: the browser's line" in out
    assert "accepted by the service │ 14" in out
    again = " ".join(runner.invoke(app, args).output.split())
    assert "accepted by the service │ 0" in again and "duplicates (sent before) │ 14" in again

    with service.client("platform") as http:
        honest = http.post("/v1/sessions/s-honest-a/score").json()
        bot = http.post("/v1/sessions/s-bot-b/score").json()
    assert honest["flags"] == [] and honest["effective_seconds"] > 500
    assert bot["flags"] and bot["effective_seconds"] < 100 < bot["claimed_seconds"]


def test_pseudonymised_ids_and_no_addresses(tmp_path: Path) -> None:
    log = tmp_path / "tracking.log"
    log.write_text("\n".join(tracking_log()) + "\n")
    out = tmp_path / "events.ndjson"
    result = CliRunner().invoke(app, ["import", "edx", str(log), "--org", "zhejiang/hdu", "--out", str(out),
                                      "--salt", "a secret of the unit"])
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(events) == 14
    assert all(e["learner_id"].startswith("px-") and "ip" not in e for e in events)
    assert len({e["learner_id"] for e in events}) == 2 and "1001" not in out.read_text()


class Flaky(httpx.BaseTransport):
    """A real connection that answers 503 to the first request and loses the answer to the second."""

    def __init__(self) -> None:
        self.real = httpx.HTTPTransport()
        self.calls = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.calls == 1:
            return httpx.Response(503, headers={"Retry-After": "0"})
        answer = self.real.handle_request(request)
        if self.calls == 2:
            answer.read()
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return answer


def test_the_client_resends_and_nothing_is_counted_twice(service) -> None:
    events = [{"event_id": f"cl-{n}", "ts": (T0 + timedelta(seconds=n)).isoformat(), "type": "video_heartbeat",
               "learner_id": "cl-learner", "org_id": "zhejiang/hdu", "course_id": "cl-course",
               "session_id": "cl-session", "video_id": "v1", "position": float(n)} for n in range(250)]
    events.insert(100, {**events[0], "event_id": "cl-bad", "rate": 0})
    flaky = Flaky()
    with LearnGuardClient(service.url, service.keys["platform"], batch=100, backoff_s=0.01, transport=flaky) as lg:
        totals = lg.send_events(events)
    assert totals.retries == 2 and totals.batches == 3
    # the lost answer's batch was applied and resent: its events come back as duplicates,
    # and the service holds each event once
    assert (totals.accepted, totals.duplicates) == (150, 100)
    assert sum(service.store.streams.accepted_counts("cl-session").values()) == 250
    assert [(r["index"], r["event_id"]) for r in totals.rejected] == [(100, "cl-bad")]
