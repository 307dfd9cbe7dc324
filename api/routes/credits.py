"""Credited hours out (学时认定, 学时互认): the study time that stands, per learner × course,
for the platform to credit — JSON, a spreadsheet, or xAPI statements for its LRS."""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from learnguard.api import report_answers as answers
from learnguard.api.deps import CallerDep
from learnguard.api.report_pool import ReportsDep
from learnguard.api.schemas import CreditsPage, documented
from learnguard.errors import BadRequest

router = APIRouter(prefix="/v1", tags=["credits"])


def _answers() -> dict[str, Any]:
    """The page, a spreadsheet, or (``format=xapi``) an array of xAPI statements."""
    documented_here = documented(CreditsPage, csv=True, errors=(400, 401, 403, 422, 503))
    content = documented_here["responses"][200]["content"]
    content["application/json"] = {"schema": {"oneOf": [
        content["application/json"]["schema"],
        {"type": "array", "items": {"type": "object"}, "description": "format=xapi: xAPI statements"}]}}
    return documented_here


@router.get("/credits", summary="Study hours that stand, per learner × course (JSON, CSV, xlsx or xAPI)",
            **_answers())
def credits(request: Request, caller: CallerDep, reports: ReportsDep, course_id: str | None = None,
            org_id: str | None = None, limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
            cursor: str | None = None,
            format: Literal["json", "csv", "xlsx", "xapi"] | None = None  # noqa: A002 - the query's name
            ) -> Response:
    """``format=xapi`` answers an array of xAPI statements (``completed`` when the creditable
    hours stand, else ``progressed``; ``result.duration`` the standing time) for the
    platform's LRS; ``X-Next-Cursor`` pages the CSV and xAPI forms."""
    caller.require("credits")
    try:
        offset = int(base64.urlsafe_b64decode(cursor.encode()).decode()) if cursor else 0
    except ValueError as exc:
        raise BadRequest("cursor: not a cursor this service gave out") from exc
    fmt = format or ("csv" if "text/csv" in request.headers.get("accept", "") else "json")
    return reports.answer(answers.credits_page, caller, answers.CreditsQuery(org_id, course_id, offset, limit, fmt))
