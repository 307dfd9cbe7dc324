"""Nothing one tenant sends can hurt another: ids belong to the org that first used them.

Each case was reproduced against the service before the fix (a ``zhejiang/hdux`` key
reaching ``zhejiang/hdu``'s sessions, learners and courses); each must now fail to.
"""

from __future__ import annotations

import pytest

from tests.factories import event, watched_session

pytestmark = pytest.mark.integration

HDU_COURSE = {"title": "党史学习", "org_id": "zhejiang/hdu", "max_rate": 2.0}


@pytest.fixture
def two_universities(service):
    """hdu studies honestly; hdux has a platform and a supervisor key of its own."""
    service.keys["platform_hdux"] = service.store.apikeys.create("platform", "zhejiang/hdux", "hdux platform")[0]
    service.keys["supervisor_hdux"] = service.store.apikeys.create("supervisor", "zhejiang/hdux", "hdux office")[0]
    with service.client("platform_hdu") as hdu:
        assert hdu.post("/v1/events", json=watched_session("hdu-s1", learner="hdu-l1", minutes=10)).json()[
            "accepted"] > 0
        before = hdu.post("/v1/sessions/hdu-s1/score").json()
    assert before["level"] == "normal" and before["effective_seconds"] > 500
    return service, before


def _as_hdux(events: list[dict]) -> list[dict]:
    return [{**e, "org_id": "zhejiang/hdux", "event_id": "x-" + e["event_id"]} for e in events]


def test_another_org_cannot_write_into_a_session_it_does_not_own(two_universities) -> None:
    service, before = two_universities
    forged = _as_hdux([event(90, "video_heartbeat", session="hdu-s1", learner="hdu-l1", at_s=100,
                             video_id="v1", position=3000, rate=1.0)])
    with service.client("platform_hdux") as hdux:
        answer = hdux.post("/v1/events", json=forged)
    assert answer.status_code == 202
    body = answer.json()
    assert body["accepted"] == 0 and body["rejected"][0]["error"].startswith("session_id: 'hdu-s1'")
    assert "zhejiang/hdu'" not in answer.text and "hdu-l1" not in body["rejected"][0]["error"]
    with service.client("platform_hdu") as hdu:
        after = hdu.post("/v1/sessions/hdu-s1/score")
    assert after.status_code == 200, "one foreign click used to make this session 409 forever"
    assert after.json()["level"] == before["level"]
    assert after.json()["effective_seconds"] == before["effective_seconds"]


def test_another_org_cannot_claim_a_learner_and_the_owner_keeps_reading_them(two_universities) -> None:
    service, _ = two_universities
    with service.client("platform_hdux") as hdux:
        answer = hdux.post("/v1/events", json=_as_hdux(watched_session("hdux-s9", learner="hdu-l1", minutes=2)))
    assert answer.json()["accepted"] == 0
    assert all(r["error"].startswith("learner_id: 'hdu-l1'") for r in answer.json()["rejected"])
    with service.client("supervisor") as hdu_office:
        assert hdu_office.get("/v1/learners/hdu-l1").status_code == 200
    with service.client("supervisor_hdux") as hdux_office:
        refused = hdux_office.get("/v1/learners/hdu-l1")
    assert refused.status_code == 403 and "zhejiang/hdu'" not in refused.text


def test_another_org_cannot_redescribe_a_course_the_owner_uses(two_universities) -> None:
    service, _ = two_universities
    with service.client("platform_hdux") as hdux:
        takeover = hdux.put("/v1/courses/c1", json={**HDU_COURSE, "org_id": "zhejiang/hdux", "max_rate": 100})
        sneaky = hdux.post("/v1/events", json=_as_hdux([event(1, "click", session="hdux-s2", learner="hdux-l2")]))
    assert takeover.status_code == 403 and "zhejiang/hdu'" not in takeover.text
    assert sneaky.json()["rejected"][0]["error"].startswith("course_id: 'c1'")
    with service.client("platform_hdu") as hdu:
        assert hdu.get("/v1/courses/c1").status_code == 404  # still undescribed: nothing was written
        assert hdu.put("/v1/courses/c1", json=HDU_COURSE).status_code == 200


def test_a_course_shared_by_an_ancestor_org_serves_its_units(service) -> None:
    with service.client("platform") as province:  # a zhejiang key
        assert province.put("/v1/courses/prov-c", json={**HDU_COURSE, "org_id": "zhejiang"}).status_code == 200
    for key, org in (("platform_hdu", "zhejiang/hdu"),):
        with service.client(key) as unit:
            answer = unit.post("/v1/events", json=[event(1, "click", session="u-s1", learner="u-l1", org=org,
                                                         course="prov-c")])
        assert answer.json()["accepted"] == 1
    with service.client("platform_other") as jiangsu:
        outside = jiangsu.post("/v1/events", json=[event(2, "click", session="js-s1", learner="js-l1",
                                                         org="jiangsu/nju", course="prov-c")])
    assert outside.json()["accepted"] == 0 and outside.json()["rejected"][0]["error"].startswith("course_id")


def test_a_province_key_may_send_for_its_universities(two_universities) -> None:
    service, _ = two_universities
    with service.client("platform") as province:
        answer = province.post("/v1/events", json=[event(95, "click", session="hdu-s1", learner="hdu-l1",
                                                         at_s=400, target="note", trusted=True)])
    assert answer.json()["accepted"] == 1


def test_an_org_scoped_analyst_cannot_promote_the_model_everyone_uses(service) -> None:
    with service.client("analyst") as analyst:
        assert analyst.post("/v1/models/rollback").status_code == 403
        assert analyst.post("/v1/models/v1/promote").status_code == 403
    with service.client("admin") as admin:
        assert admin.post("/v1/models/v1/promote").status_code == 404  # allowed; no such version
