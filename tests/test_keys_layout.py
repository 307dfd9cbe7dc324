"""The Redis key formats are part of operations (README table): changing them needs a migration."""

from __future__ import annotations

import pytest

from learnguard.service.keys import Keys, shard_of


def test_key_formats_are_pinned() -> None:
    keys = Keys("lg")
    assert keys.events(3) == "lg:{3}:events"
    assert keys.dead(3) == "lg:{3}:dead"
    assert keys.lease(3) == "lg:{3}:lease"
    assert keys.applied(3) == "lg:{3}:applied"
    assert keys.stats(3) == "lg:{3}:stats"
    assert keys.event_ids(3, "s1") == "lg:{3}:ids:s1"
    assert keys.session(3, "s1") == "lg:{3}:sess:s1"
    assert keys.challenges(3, "s1") == "lg:{3}:chal:s1"
    assert (keys.seen(3, "s1"), keys.touched(3)) == ("lg:{3}:seen:s1", "lg:{3}:touched")
    assert (keys.learner_course(3, "l1", "c1"), keys.learner_course_archive(3, "l1", "c1")) == (
        "lg:{3}:lc:c1:l1", "lg:{3}:lcz:c1:l1")
    assert keys.course("c1") == "lg:course:c1"
    assert keys.api_key("ab") == "lg:apikey:ab"
    assert keys.meta() == "lg:meta" and keys.workers() == "lg:workers"
    assert keys.owners("session") == "lg:owners:session"
    assert keys.models("active") == "lg:models:active"
    assert keys.device("pc:7", 2930) == "lg:dweek:2930:pc:7"
    assert keys.network("10.0.0.0/24", 20513) == "lg:net:10.0.0.0/24:20513"
    assert keys.starts("c1", 2954000) == "lg:starts:c1:2954000"
    assert keys.gesture("c1", "v1", 77) == keys.gesture("c1", "v1", 60) == "lg:gpos5:c1:v1:1"  # field "77", "60"
    assert keys.model_evidence(3, "v2") == "lg:{3}:mev:v2"
    assert (keys.rows("c1"), keys.rows_flags("c1"), keys.rows_marks("c1"), keys.rows_detail("c1")) == (
        "lg:rows:c:c1", "lg:rows:f:c1", "lg:rows:m:c1", "lg:rows:d:c1")
    assert (keys.rows_dirty(), keys.rows_model(), keys.rows_busy(), keys.rows_orgs()) == (
        "lg:rows:dirty", "lg:rows:model", "lg:rows:busy", "lg:rows:orgs")
    assert (keys.xapi_voided(), keys.xapi_ignored()) == ("lg:xapi:voided", "lg:xapi:ignored")
    assert keys.offline("l1") == "lg:offline:l1"
    assert (keys.hooks(), keys.hooks_out(), keys.hooks_retry(), keys.hooks_parked(), keys.hook_log("w1")) == (
        "lg:hooks", "lg:hooks:out", "lg:hooks:retry", "lg:hooks:parked", "lg:hooks:log:w1")


def test_a_learner_always_lands_on_the_same_shard() -> None:
    assert shard_of("cadre-0001", 8) == shard_of("cadre-0001", 8) == 5  # crc32, pinned


def test_prefix_with_braces_is_refused() -> None:
    with pytest.raises(ValueError, match="prefix"):
        Keys("a{b}")
