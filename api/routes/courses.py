"""``PUT/GET /v1/courses/{course_id}`` (contract §2)."""

from __future__ import annotations

import msgspec
from fastapi import APIRouter, Request, Response
from learnguard.api.deps import CallerDep, SettingsDep, StoreDep
from learnguard.api.ingest import read_body
from learnguard.features.course import CourseError, parse_course

from learnguard.errors import NotFound, Unprocessable

router = APIRouter(prefix="/v1", tags=["courses"])


@router.put("/courses/{course_id}", summary="Describe a course")
async def put_course(course_id: str, request: Request, caller: CallerDep, store: StoreDep,
                     settings: SettingsDep) -> Response:
    caller.require("courses:write")
    try:
        course = parse_course(await read_body(request, settings))
    except CourseError as exc:
        raise Unprocessable(str(exc)) from exc
    caller.require_org(course.org_id, f"course {course_id}")
    existing = store.courses.get(course_id)
    if existing is not None:
        caller.require_org(existing.org_id, f"existing course {course_id}")
    store.courses.put(course_id, course)
    return Response(msgspec.json.encode({"course_id": course_id, **msgspec.to_builtins(course)}),
                    media_type="application/json")


@router.get("/courses/{course_id}", summary="Read a course description")
async def get_course(course_id: str, caller: CallerDep, store: StoreDep) -> Response:
    caller.require("courses:read")
    course = store.courses.get(course_id)
    if course is None:
        raise NotFound(f"course {course_id!r} is not described")
    caller.require_org(course.org_id, f"course {course_id}")
    return Response(msgspec.json.encode({"course_id": course_id, **msgspec.to_builtins(course)}),
                    media_type="application/json")
