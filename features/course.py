"""Course descriptions (contract §2): what the platform tells us about a training class."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from learnguard.features.events import (
    MAX_TIME_MS,
    MIN_TIME_MS,
    TIME_RANGE_TEXT,
    OrgPath,
    Ref,
    Seconds,
    Time,
    epoch_seconds,
    explain_validation_error,
)


class Checkpoint(msgspec.Struct, frozen=True):
    """A question bound to what is on screen (contract v1.1 §10); ``answer`` indexes ``choices``
    and is shown only to admin and analyst keys."""

    item_id: Ref
    video_id: Ref
    after_position: Seconds
    prompt: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
    choices: Annotated[list[Annotated[str, msgspec.Meta(max_length=500)]], msgspec.Meta(min_length=2, max_length=10)]
    answer: Annotated[int, msgspec.Meta(ge=0)]


class CourseInfo(msgspec.Struct, frozen=True):
    """What detectors know of the course (defaults when it was never described)."""

    described: bool
    max_rate: float
    deadline: float | None = None
    opens_at: float | None = None
    durations: dict[str, float] = msgspec.field(default_factory=dict)
    checkpoints: tuple[Checkpoint, ...] = ()
    max_challenges_per_hour: int = 4


class Video(msgspec.Struct):
    video_id: Ref
    duration: Seconds


class Course(msgspec.Struct, omit_defaults=True):
    """A course as the platform describes it with ``PUT /v1/courses/{id}``."""

    org_id: OrgPath
    title: Annotated[str, msgspec.Meta(max_length=512)] = ""
    opens_at: Time | None = None
    deadline: Time | None = None
    required_hours: Annotated[float, msgspec.Meta(ge=0, le=10000)] | None = None
    max_rate: Annotated[float, msgspec.Meta(gt=0, le=100)] = 2.0
    videos: list[Video] = msgspec.field(default_factory=list)
    checkpoints: list[Checkpoint] = msgspec.field(default_factory=list)
    max_challenges_per_hour: Annotated[int, msgspec.Meta(ge=0, le=60)] = 4


_decode_course = msgspec.json.Decoder(Course).decode


class CourseError(ValueError):
    """A course body that breaks the contract; the message names the field."""


def parse_course(body: bytes) -> Course:
    """Validate a course body, raising ``CourseError`` with ``field: reason``."""
    try:
        course = _decode_course(body)
    except msgspec.ValidationError as exc:
        raise CourseError(explain_validation_error(str(exc), None).replace("event: ", "body: ", 1)) from exc
    except msgspec.DecodeError as exc:
        raise CourseError(f"body is not valid JSON: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise CourseError(f"body is not valid UTF-8 ({exc.reason}); JSON text must be UTF-8") from exc
    except RecursionError as exc:
        raise CourseError("body is nested too deeply to be a course description") from exc
    for name in ("opens_at", "deadline"):
        value = getattr(course, name)
        if isinstance(value, datetime) and not MIN_TIME_MS <= value.timestamp() * 1000 < MAX_TIME_MS:
            raise CourseError(f"{name}: {TIME_RANGE_TEXT}")
    durations = {video.video_id: video.duration for video in course.videos}
    for index, checkpoint in enumerate(course.checkpoints):
        if checkpoint.answer >= len(checkpoint.choices):
            raise CourseError(f"checkpoints[{index}].answer: {checkpoint.answer} is not the index of one of its "
                              f"{len(checkpoint.choices)} choices (0–{len(checkpoint.choices) - 1})")
        duration = durations.get(checkpoint.video_id)
        if duration is not None and checkpoint.after_position > duration:
            raise CourseError(f"checkpoints[{index}].after_position: {checkpoint.after_position:g} s is beyond the "
                              f"end of video {checkpoint.video_id} ({duration:g} s)")
    return course


def course_info(course: Course | None, default_max_rate: float) -> CourseInfo:
    """What detectors need of a course; defaults (and ``described=False``) when unknown."""
    if course is None:
        return CourseInfo(described=False, max_rate=default_max_rate)
    deadline = epoch_seconds(course.deadline) if course.deadline is not None else None
    opens_at = epoch_seconds(course.opens_at) if course.opens_at is not None else None
    return CourseInfo(described=True, max_rate=course.max_rate, deadline=deadline, opens_at=opens_at,
                      durations={video.video_id: video.duration for video in course.videos},
                      checkpoints=tuple(course.checkpoints), max_challenges_per_hour=course.max_challenges_per_hour)
