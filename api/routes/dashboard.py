"""``/dashboard``: the supervisors' page, with every asset served by the service itself
(plotly.js comes from the installed ``plotly`` package: no internet needed)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from learnguard.errors import NotFound

router = APIRouter(tags=["dashboard"], include_in_schema=False)
STATIC = Path(__file__).resolve().parent.parent / "static"
ASSETS = {"dashboard.js": "application/javascript", "dashboard.css": "text/css"}


def plotly_js() -> Path:
    import plotly

    return Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


@router.get("/dashboard")
def dashboard() -> FileResponse:
    return FileResponse(STATIC / "dashboard.html", media_type="text/html")


@router.get("/dashboard/assets/{name}")
def asset(name: str) -> FileResponse:
    if name == "plotly.min.js":
        return FileResponse(plotly_js(), media_type="application/javascript",
                            headers={"Cache-Control": "max-age=86400"})
    if name not in ASSETS:
        raise NotFound(f"no asset {name!r}")
    return FileResponse(STATIC / name, media_type=ASSETS[name])
