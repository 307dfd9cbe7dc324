"""Reading request bodies: a size limit while reading, and one place that turns every way a
body can be unreadable (not JSON, not UTF-8, nested too deeply, the wrong shape) into a
4xx that says so — never a 500."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from fastapi import Request

from learnguard.errors import BadRequest, PayloadTooLarge, Unprocessable
from learnguard.settings import Settings

T = TypeVar("T")


async def read_body(request: Request, settings: Settings) -> bytes:
    """The body, refused with 413 as soon as it passes the size limit."""
    limit = settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body is {int(declared)} bytes; the limit is {limit} bytes (5 MiB)")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body is larger than the limit of {limit} bytes (5 MiB)")
        chunks.append(chunk)
    return b"".join(chunks)


def unreadable(exc: BaseException) -> BadRequest | None:
    """The 400 for a body the decoder could not read, or None for other errors."""
    if isinstance(exc, UnicodeDecodeError):
        return BadRequest(f"body is not valid UTF-8 ({exc.reason}); JSON text must be UTF-8")
    if isinstance(exc, RecursionError):
        return BadRequest("body is nested too deeply (the service reads flat JSON objects)")
    if isinstance(exc, msgspec.DecodeError):
        return BadRequest(f"body is not valid JSON: {exc}")
    return None


def decode_json(body: bytes, shape: type[T], example: str) -> T:
    """Decode a JSON body into ``shape``: 400 if it cannot be read, 422 if it has the wrong
    fields (``example`` shows what to send)."""
    try:
        return msgspec.json.decode(body, type=shape)
    except msgspec.ValidationError as exc:
        raise Unprocessable(f"{exc}; send {example}") from exc
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        problem = unreadable(exc)
        assert problem is not None
        raise problem from exc


def decode_any(body: bytes) -> Any:
    return decode_json(body, Any, "a JSON value")  # type: ignore[arg-type]
