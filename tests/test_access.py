"""Contract §6: 401 without a valid key, 403 outside the role or the org subtree."""

from __future__ import annotations

import pytest

from tests.factories import event, watched_session

pytestmark = pytest.mark.integration

COURSE = {"title": "t", "org_id": "zhejiang/hdu", "max_rate": 2.0}

# route -> roles allowed (contract §6), each checked with in-subtree data
ROUTES = {
    "post_events": {"platform", "admin"},
    "put_course": {"platform", "admin"},
    "get_course": {"platform", "analyst", "admin"},
    "score": {"platform", "analyst", "admin"},
}
WHO = {"platform": "platform", "supervisor": "supervisor", "analyst": "analyst", "admin": "admin"}


def call(http, route: str, n: int):
    if route == "post_events":
        return http.post("/v1/events", json=[event(n, "click", session=f"acc{n}")])
    if route == "put_course":
        return http.put("/v1/courses/c-acc", json=COURSE)
    if route == "get_course":
        return http.get("/v1/courses/c-acc")
    return http.post("/v1/sessions/seeded/score")


@pytest.fixture
def seeded(service):
    with service.client("admin") as http:
        assert http.put("/v1/courses/c-acc", json=COURSE).status_code == 200
        assert http.post("/v1/events", json=watched_session("seeded", minutes=1)).status_code == 202
    return service


def test_role_matrix(seeded) -> None:
    for n, (route, allowed) in enumerate(ROUTES.items()):
        for role, who in WHO.items():
            with seeded.client(who) as http:
                status = call(http, route, n).status_code
            expected_ok = role in allowed
            assert (status < 400) == expected_ok, f"{role} on {route}: {status}"
            if not expected_ok:
                assert status == 403


@pytest.mark.parametrize("route", list(ROUTES))
def test_no_key_or_unknown_key_is_401(seeded, route: str) -> None:
    with seeded.client(None) as http:
        assert call(http, route, 0).status_code == 401
    seeded.keys["bogus"] = "lg_not-a-key"
    with seeded.client("bogus") as http:
        answer = call(http, route, 0)
    assert answer.status_code == 401 and answer.json()["error"] == "unknown key"


def test_revoked_key_is_refused(seeded) -> None:
    keys = seeded.store.apikeys
    record = next(k for k in keys.list() if k.name == "analyst")
    keys.revoke(record.key_id)
    import time
    time.sleep(2.1)  # the API caches key lookups for 2 s
    with seeded.client("analyst") as http:
        answer = http.get("/v1/courses/c-acc")
    assert answer.status_code == 401 and "revoked" in answer.json()["error"]


def test_org_subtree_is_enforced_on_every_event(seeded) -> None:
    inside = event(1, "click", session="sub1", org="zhejiang/hdu/computing")
    outside = event(2, "click", session="sub2", org="zhejiang/zju")
    with seeded.client("platform_hdu") as http:
        mixed = http.post("/v1/events", json=[inside, outside])
        only_inside = http.post("/v1/events", json=[inside])
    assert mixed.status_code == 403
    assert "index 1" in mixed.json()["error"] and "zhejiang/zju" in mixed.json()["error"]
    assert seeded.store.streams.accepted_counts("sub2") == {}
    assert only_inside.status_code == 202


def test_subtree_is_a_path_prefix_not_a_string_prefix(seeded) -> None:
    with seeded.client("platform_hdu") as http:
        answer = http.post("/v1/events", json=[event(1, "click", session="sub3", org="zhejiang/hdux")])
    assert answer.status_code == 403


def test_scoring_and_courses_outside_the_subtree_are_forbidden(seeded) -> None:
    with seeded.client("platform_other") as http:
        assert http.post("/v1/sessions/seeded/score").status_code == 403
        assert http.get("/v1/courses/c-acc").status_code == 403
        assert http.put("/v1/courses/c-acc", json={**COURSE, "org_id": "jiangsu"}).status_code == 403
        assert http.put("/v1/courses/c-js", json=COURSE).status_code == 403
