"""Plots for the analysts' notebooks (matplotlib): feature distributions and a session's
playback timeline. The notebooks call these; they hold no logic of their own."""

from __future__ import annotations

import pandas as pd

from learnguard.features.timeline import public as timeline_public
from learnguard.service.store import Store


def feature_distributions(sessions: pd.DataFrame, features: list[str]):
    """Histograms of each feature for flagged vs not-flagged sessions."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(features), figsize=(4 * len(features), 3), squeeze=False)
    flagged = sessions["misconduct_flagged"].astype(bool)
    for ax, name in zip(axes[0], features, strict=True):
        ax.hist([sessions.loc[~flagged, name], sessions.loc[flagged, name]], bins=30, label=["normal", "flagged"],
                stacked=False, density=True)
        ax.set_title(name)
    axes[0][0].legend()
    fig.tight_layout()
    return fig


def session_timeline(store: Store, session_id: str):
    """Media position against time for one session, events marked (the dashboard's picture)."""
    import matplotlib.pyplot as plt

    counts = store.streams.accepted_counts(session_id)
    record = store.sessions.load_record(next(iter(counts)), session_id) if counts else None
    if record is None:
        raise LookupError(f"session {session_id!r} has no processed events in this store")
    points = pd.DataFrame(timeline_public(record.state.timeline, list(record.state.videos), record.state.timeline_base))
    fig, ax = plt.subplots(figsize=(10, 4))
    positioned = points.dropna(subset=["position"])
    for video, part in positioned.groupby("video_id"):
        ax.plot(pd.to_datetime(part["ts"], unit="s"), part["position"], label=video)
    for kind, marker in (("video_play", ">"), ("video_pause", "s"), ("video_seek", "D"), ("click", "|")):
        part = points[points["type"] == kind]
        ax.scatter(pd.to_datetime(part["ts"], unit="s"), part["position"].fillna(0), marker=marker, label=kind)
    ax.set_xlabel("time")
    ax.set_ylabel("media position (s)")
    ax.set_title(session_id)
    ax.legend(fontsize=7, ncol=2)
    return fig
