"""The browser tracker in real headless Chromium playing a real (generated) video: a
person-like session — trusted clicks, a pause, a seek back, a challenge answered, a short
network outage — and a userscript bot — muted, 16×, a hidden tab, script-made clicks — go
through the platform's relay to the service and are scored apart; nothing the browser
queued during the outage is lost."""

from __future__ import annotations

import gzip
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from learnguard.server_thread import ServerThread

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[1]
TRACKER = ROOT / "tracker" / "learnguard-tracker.js"

PAGE = """<!doctype html><meta charset="utf-8"><title>lecture</title>
<video id="v" src="/course/lecture.webm" width="320" height="240"></video>
<button id="play">play</button> <button id="pause">pause</button>
<div id="challenge" hidden><p id="prompt"></p><button id="continue">继续</button></div>
<script>
  var q = new URLSearchParams(location.search);
  document.cookie = "platform_user=" + q.get("learner") + "; path=/";   // the platform's sign-in
  document.cookie = "platform_org=zhejiang/hdu; path=/";
</script>
<script src="/tracker/learnguard-tracker.js"></script>
<script>
  var v = document.getElementById("v");
  window.tracker = LearnGuardTracker({relay: "/lg", video: v, videoId: "lecture-1", courseId: "course-tracker",
    sessionId: q.get("session"), heartbeatMs: 1000, batchMs: 1000, challengeEveryMs: 1e9,
    onChallenge: function (c) { return new Promise(function (resolve) {
      var box = document.getElementById("challenge");
      document.getElementById("prompt").textContent = c.prompt || "continue?";
      box.hidden = false;
      document.getElementById("continue").onclick = function () { box.hidden = true; resolve(0); };
    }); }});
  document.getElementById("play").onclick = function () { v.play(); };
  document.getElementById("pause").onclick = function () { v.pause(); };
</script>"""


def make_video(path: Path, seconds: int = 60, fps: int = 10) -> None:
    import av

    out = av.open(str(path), "w", format="webm")
    stream = out.add_stream("libvpx", rate=fps)
    stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    for n in range(seconds * fps):
        frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), (n * 3) % 255, dtype=np.uint8), format="rgb24")
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    out.close()


def test_the_tracker_is_small() -> None:
    assert len(gzip.compress(TRACKER.read_bytes(), 9)) < 5 * 1024


def _flushed(browser) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if browser.execute_script("window.tracker.flush(); return window.tracker.queue.length;") == 0:
            return
        time.sleep(0.3)
    raise AssertionError("the tracker still holds events")


@pytest.mark.parametrize("backend", ["embedded"])
def test_a_person_and_a_userscript_are_scored_apart(service, browser, tmp_path: Path) -> None:
    from fastapi.staticfiles import StaticFiles
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    from examples.relay import make_relay

    make_video(tmp_path / "lecture.webm")
    (tmp_path / "lecture.html").write_text(PAGE, encoding="utf-8")
    relay = make_relay(service.url, service.keys["platform"])
    relay.mount("/tracker", StaticFiles(directory=TRACKER.parent), name="tracker")
    relay.mount("/course", StaticFiles(directory=tmp_path), name="course")
    platform = ServerThread(relay).start()
    wait = WebDriverWait(browser, 40)
    # the learner opened the course 45 minutes ago (the platform's server logged it)
    opened = datetime.now(UTC) - timedelta(minutes=45)
    with service.client("platform") as http:
        http.post("/v1/events", json=[{
            "event_id": "p-open", "ts": opened.isoformat(), "received_at": opened.isoformat(), "type": "page_view",
            "learner_id": "cadre-p", "org_id": "zhejiang/hdu", "course_id": "course-tracker",
            "session_id": "s-person", "page": "/syllabus"}]).raise_for_status()
    try:
        browser.get(f"{platform.url}/course/lecture.html?learner=cadre-p&session=s-person")
        wait.until(lambda d: d.execute_script("return document.getElementById('v').readyState >= 2"))
        browser.find_element(By.ID, "play").click()
        time.sleep(5)
        browser.find_element(By.ID, "pause").click()
        browser.execute_script("document.getElementById('v').currentTime = 2;")  # back to re-watch
        time.sleep(1)
        browser.set_network_conditions(offline=True, latency=0, download_throughput=0, upload_throughput=0)
        browser.find_element(By.ID, "play").click()
        time.sleep(3)  # events queue while the network is down
        browser.set_network_conditions(offline=False, latency=0, download_throughput=-1, upload_throughput=-1)
        browser.execute_script("window.tracker.ask();")
        wait.until(ready.element_to_be_clickable((By.ID, "continue"))).click()
        time.sleep(3)
        browser.find_element(By.ID, "pause").click()
        _flushed(browser)
        emitted = browser.execute_script("window.tracker.end(); return window.tracker.n;")  # + session_end
        time.sleep(1)  # the beacon with session_end

        browser.get(f"{platform.url}/course/lecture.html?learner=cadre-b&session=s-bot")
        wait.until(lambda d: d.execute_script("return document.getElementById('v').readyState >= 2"))
        browser.execute_script("""  // what a brushing userscript does
            var v = document.getElementById('v'); v.muted = true; v.playbackRate = 16;
            Object.defineProperty(document, 'visibilityState', {get: function () { return 'hidden'; }});
            document.dispatchEvent(new Event('visibilitychange'));
            document.getElementById('play').click();""")
        wait.until(lambda d: d.execute_script("return document.getElementById('v').ended"))
        _flushed(browser)
    finally:
        platform.stop()

    with service.client("platform") as http:
        person = http.post("/v1/sessions/s-person/score").json()
        bot = http.post("/v1/sessions/s-bot/score").json()
    assert (person["verification"]["challenges"], person["verification"]["passed"]) == (1, 1)
    # every event the tracker emitted (offline included), the course page logged before, and
    # the challenge the service issued: each held once
    assert sum(service.store.streams.accepted_counts("s-person").values()) == emitted + 1 + 1, "lost or doubled"
    assert person["flags"] == [], person["flags"]
    assert bot["flags"], "a muted 16x session in a hidden tab must be flagged"
    assert bot["risk"] > person["risk"]
    assert bot["effective_seconds"] < bot["claimed_seconds"]


VIDEOJS = TRACKER.parent / "node_modules" / "video.js" / "dist"
PLUGIN_PAGE = """<!doctype html><meta charset="utf-8"><title>lecture (video.js)</title>
<link href="/vendor/video-js.min.css" rel="stylesheet">
<video-js id="p" class="video-js" width="320" height="240" preload="auto">
  <source src="/course/lecture.webm" type="video/webm"></video-js>
<button id="play">play</button> <button id="pause">pause</button>
<script>document.cookie = "platform_user=cadre-v; path=/";
        document.cookie = "platform_org=zhejiang/hdu; path=/";</script>
<script src="/vendor/video.min.js"></script>
<script src="/tracker/learnguard-tracker.js"></script>
<script>
  var player = videojs("p");
  window.tracker = player.learnguard({relay: "/lg", videoId: "lecture-1", courseId: "course-tracker",
                                      sessionId: "s-videojs", heartbeatMs: 1000, batchMs: 1000});
  document.getElementById("play").onclick = function () { player.play(); };
  document.getElementById("pause").onclick = function () { player.pause(); };
</script>"""


@pytest.mark.parametrize("backend", ["embedded"])
def test_the_videojs_plugin_tracks_a_videojs_player(service, browser, tmp_path: Path) -> None:
    if not (VIDEOJS / "video.min.js").exists():
        pytest.skip("video.js comes from npm (test.sh runs npm ci in tracker/)")
    from fastapi.staticfiles import StaticFiles
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from examples.relay import make_relay

    make_video(tmp_path / "lecture.webm")
    (tmp_path / "videojs.html").write_text(PLUGIN_PAGE, encoding="utf-8")
    relay = make_relay(service.url, service.keys["platform"])
    relay.mount("/tracker", StaticFiles(directory=TRACKER.parent), name="tracker")
    relay.mount("/vendor", StaticFiles(directory=VIDEOJS), name="vendor")
    relay.mount("/course", StaticFiles(directory=tmp_path), name="course")
    platform = ServerThread(relay).start()
    try:
        browser.get(f"{platform.url}/course/videojs.html")
        WebDriverWait(browser, 40).until(lambda d: d.execute_script("return player.readyState() >= 2"))
        browser.find_element(By.ID, "play").click()
        time.sleep(4)
        browser.find_element(By.ID, "pause").click()
        _flushed(browser)
        kinds = browser.execute_script("return window.tracker.n")
    finally:
        platform.stop()
    with service.client("platform") as http:
        score = http.post("/v1/sessions/s-videojs/score").json()
    # session start, page view, trusted clicks, play, heartbeats, pause: each held once
    assert kinds >= 6 and score["events"] == kinds
    assert score["claimed_seconds"] >= 2 and score["flags"] == []
