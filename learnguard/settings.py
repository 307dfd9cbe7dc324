"""The one place that reads the environment (STYLE 7).

Every knob is a ``LEARNGUARD_*`` variable, except ``REDIS_URL`` which keeps its
conventional name. Tests build their own ``Settings`` and pass it down instead of
patching the environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _zone_name(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not an IANA time zone such as Asia/Shanghai") from exc
    return value


class Settings(BaseSettings):
    """Service configuration; see the README's configuration table."""

    model_config = SettingsConfigDict(env_prefix="LEARNGUARD_", extra="ignore")

    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "LEARNGUARD_REDIS_URL")
    )
    # replicas that must hold an ingested batch before it is answered as accepted (Redis WAIT);
    # unset: 1 behind Sentinel, else 0. The wait is bounded: past it the batch is answered 503
    replica_acks: int | None = Field(default=None, ge=0)
    replica_ack_timeout_ms: int = Field(default=1000, ge=1)
    data_dir: Path = Path(".learnguard")
    key_prefix: str = "lg"
    shards: int = Field(default=8, ge=1, le=1024)
    aof_fsync: str = "everysec"

    max_body_bytes: int = 5 * 1024 * 1024
    max_events: int = 5000

    worker_batch: int = Field(default=500, ge=1)
    # session records a worker keeps in memory, in encoded bytes (Python objects took 5.6×
    # that, measured); the least recently touched go first, and are re-read from Redis if needed
    worker_cache_bytes: int = Field(default=32 * 1024 * 1024, ge=0)
    worker_block_ms: int = Field(default=100, ge=1)
    lease_ms: int = Field(default=5000, ge=500)
    max_deliveries: int = Field(default=3, ge=1)
    reclaim_idle_ms: int = Field(default=30000, ge=100)
    stream_retention_ms: int = Field(default=7 * 24 * 3600 * 1000, ge=0)
    archive: bool = True
    archive_dir: Path | None = None
    trim_interval_s: float = Field(default=60.0, gt=0)
    # a session nothing changed for this long (its retry window) is compacted: its dedup set
    # becomes a filter and its record moves to the cold store (README: Retention)
    compact: bool = True
    compact_after_s: float = Field(default=7 * 24 * 3600.0, gt=0)
    compact_batch: int = Field(default=250, ge=1)
    # compaction runs between batches of events for at most this long a round (at least one
    # batch): a backlog of due sessions never stops event processing for seconds
    compact_slice_ms: int = Field(default=100, ge=1)
    cold_dir: Path | None = None

    score_wait_s: float = Field(default=5.0, ge=0)
    reorder_window_s: float = Field(default=90.0, ge=0)
    default_max_rate: float = Field(default=2.0, gt=0)

    cramming_window_hours: float = Field(default=72.0, gt=0)
    cramming_min_share: float = Field(default=0.6, gt=0, le=1)
    cramming_min_hours: float = Field(default=1.0, ge=0)
    # any detector threshold by name (README: Detection thresholds), e.g. '{"sharing_min_accounts": 4}'
    thresholds: dict[str, float] = Field(default_factory=dict)

    # requests per second per API key, by role (a role left out is not limited); the bucket
    # holds ``rate_burst_s`` seconds' worth, so short bursts pass
    rate_limits: dict[str, float] = Field(default_factory=lambda: {
        "platform": 2000.0, "supervisor": 20.0, "analyst": 20.0, "admin": 200.0})
    rate_burst_s: float = Field(default=2.0, gt=0)
    # serve: connections handled at once (more get 503), seconds an idle keep-alive stays open
    max_connections: int = Field(default=1000, ge=1)
    keep_alive_s: int = Field(default=5, ge=1)

    json_logs: bool = True  # one JSON object a line (with request ids); false: plain text

    # the time zone reasons, trend days and CSV use for an org (IANA name): the default, and
    # overrides by org subtree, the longest matching prefix winning, e.g. '{"xinjiang": "Asia/Urumqi"}'
    time_zone: str = "Asia/Shanghai"
    org_time_zones: dict[str, str] = Field(default_factory=dict)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _zone_name(value)  # an unknown zone fails at start, not at the first report

    @field_validator("org_time_zones")
    @classmethod
    def _known_zones(cls, value: dict[str, str]) -> dict[str, str]:
        return {org: _zone_name(zone) for org, zone in value.items()}

    host: str = "127.0.0.1"
    port: int = 8000
    serve_workers: int = Field(default=1, ge=0)
    # API processes behind serve's one port (uvicorn workers); each runs serve_workers stream workers
    api_processes: int = Field(default=1, ge=1, le=64)
    # whether this API process restarts a dead embedded Redis (serve's parent does when it runs several)
    embedded_watchdog: bool = True
    # processes that answer supervisors' reports, so a province-wide report never holds the
    # API process while platforms wait for scores (0: in the API process)
    report_processes: int = Field(default=1, ge=0, le=64)
    # webhooks: attempts per delivery before it is parked, and the first back-off (doubling)
    webhook_attempts: int = Field(default=6, ge=1, le=20)
    webhook_backoff_s: float = Field(default=5.0, gt=0)

    @property
    def cold_path(self) -> Path:
        """Where compacted sessions' records are kept (default: ``{data_dir}/cold``)."""
        return self.cold_dir if self.cold_dir is not None else self.data_dir / "cold"

    @property
    def archive_path(self) -> Path:
        """Where applied stream entries are archived (default: ``{data_dir}/archive``)."""
        return self.archive_dir if self.archive_dir is not None else self.data_dir / "archive"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
