"""A Python client for platforms and importers: batching, retries, back-off.

    from learnguard.client import LearnGuardClient
    with LearnGuardClient("http://127.0.0.1:8000", key) as lg:
        totals = lg.send_events(events)          # any iterable of contract events (dicts)
        score = lg.score("s1")

A batch is resent unchanged on 429 (after ``Retry-After``), 503, a timeout or a dropped
connection, with exponential back-off: event ids make a resend harmless (the service counts
a repeated id once), so nothing is lost and nothing counted twice. Other answers raise.
The demo's replay and the importers send through it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx
import msgspec

RETRIED = (429, 502, 503, 504)


class Totals(msgspec.Struct):
    """What the service said about everything sent: accepted, duplicates, rejected (with
    each rejection's ``index`` counted over the whole stream of events sent)."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = msgspec.field(default_factory=list)
    batches: int = 0
    retries: int = 0


def call(http: httpx.Client, method: str, url: str, attempts: int = 8, backoff_s: float = 0.5,
         on_retry: Callable[[], None] | None = None, **kwargs: Any) -> httpx.Response:
    """One request as a well-behaved platform makes it: on 429/502/503/504, a timeout or a
    dropped connection, wait (``Retry-After`` when given, else back-off with jitter) and
    send the same request again; any other error answer raises ``httpx.HTTPStatusError``."""
    delay = backoff_s
    for attempt in range(1, attempts + 1):
        try:
            answer = http.request(method, url, **kwargs)
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError):
            if attempt == attempts:
                raise
            answer = None
        if answer is not None and answer.status_code not in RETRIED:
            return answer.raise_for_status()
        if attempt == attempts:
            assert answer is not None
            return answer.raise_for_status()
        wait = delay * (1 + random.random() / 2)
        if answer is not None and answer.headers.get("retry-after"):
            wait = float(answer.headers["retry-after"])
        time.sleep(min(30.0, wait))
        delay = min(30.0, delay * 2)
        if on_retry:
            on_retry()
    raise AssertionError("unreachable")


def batches(events: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for event in events:
        batch.append(event)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class LearnGuardClient:
    def __init__(self, url: str, key: str, batch: int = 1000, attempts: int = 8, backoff_s: float = 0.5,
                 timeout_s: float = 60.0, transport: httpx.BaseTransport | None = None) -> None:
        self.batch = batch
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.http = httpx.Client(base_url=url.rstrip("/"), headers={"Authorization": f"Bearer {key}"},
                                 timeout=timeout_s, transport=transport)

    def __enter__(self) -> LearnGuardClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return call(self.http, method, url, self.attempts, self.backoff_s, **kwargs)

    def send_events(self, events: Iterable[dict[str, Any]], on_batch: Callable[[int], None] | None = None
                    ) -> Totals:
        """Send events in batches (NDJSON-free JSON arrays of ``batch``); returns the totals."""
        totals = Totals()
        offset = 0

        def retried() -> None:
            totals.retries += 1

        for batch in batches(events, self.batch):
            answer = call(self.http, "POST", "/v1/events", self.attempts, self.backoff_s, on_retry=retried,
                          content=msgspec.json.encode(batch), headers={"Content-Type": "application/json"}).json()
            totals.accepted += answer["accepted"]
            totals.duplicates += answer["duplicates"]
            totals.rejected += [{**r, "index": r["index"] + offset} for r in answer["rejected"]]
            totals.batches += 1
            offset += len(batch)
            if on_batch:
                on_batch(len(batch))
        return totals

    def describe_course(self, course_id: str, course: dict[str, Any]) -> dict[str, Any]:
        return self.request("PUT", f"/v1/courses/{course_id}", json=course).json()

    def score(self, session_id: str) -> dict[str, Any]:
        return self.request("POST", f"/v1/sessions/{session_id}/score").json()

    def credits(self, **params: Any) -> dict[str, Any]:
        return self.request("GET", "/v1/credits", params=params).json()
