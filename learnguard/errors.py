"""Domain errors, each knowing the HTTP status it maps to.

    LearnGuardError                 500 (never raised on purpose)
    ├── BadRequest                  400  body is not JSON / NDJSON, bad query
    ├── PayloadTooLarge             413  over the body or event-count limit
    ├── Unauthorized                401  no key or unknown key
    ├── Forbidden                   403  key outside its role or org subtree
    ├── NotFound                    404  unknown session, course, learner
    ├── Conflict                    409  state that contradicts the request
    ├── Unprocessable               422  a well-formed body that breaks the contract
    ├── TooManyRequests             429  a key over its rate limit (Retry-After)
    └── Unavailable                 503  store down, workers behind (read-your-writes)

Only ``api/`` turns these into responses; everything below raises them.
"""

from __future__ import annotations

from typing import Any


class LearnGuardError(Exception):
    status: int = 500

    def __init__(self, message: str, retry_after: int | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after  # seconds, sent as Retry-After (429, 503)
        self.details = details

    def __reduce__(self) -> tuple[Any, ...]:
        # kept whole across processes (a report process raises, the API answers)
        return _rebuild, (type(self), self.message, self.retry_after, self.details)


def _rebuild(cls: type[LearnGuardError], message: str, retry_after: int | None,
             details: dict[str, Any]) -> LearnGuardError:
    return cls(message, retry_after, **details)


class BadRequest(LearnGuardError):
    status = 400


class PayloadTooLarge(LearnGuardError):
    status = 413


class Unauthorized(LearnGuardError):
    status = 401


class Forbidden(LearnGuardError):
    status = 403


class NotFound(LearnGuardError):
    status = 404


class Conflict(LearnGuardError):
    status = 409


class Unprocessable(LearnGuardError):
    status = 422


class TooManyRequests(LearnGuardError):
    status = 429


class Unavailable(LearnGuardError):
    status = 503
