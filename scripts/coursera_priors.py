"""Derive the simulator's seeking priors from the real Coursera ML (ml-004) aggregates.

    python scripts/coursera_priors.py ../shared/data/real/coursera_ml_video_aggregates

writes ``simulator/coursera_priors.json``: where real seek chains start and end (20 bins
of the video's length), how many there are per play start, and how many seconds were
skipped forward for each second skipped back. Source: gkovacs/coursera-analysis (MIT).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from learnguard.simulator.seeking import BINS, histogram_of


def main(folder: Path, out: Path) -> None:
    def load(name: str) -> dict[str, list[int]]:
        return json.loads((folder / name).read_text())

    played, sources, destinations = (load("video_to_parts_played.json"), load("video_to_all_seek_sources.json"),
                                     load("video_to_all_seek_destinations.json"))
    back, forward = load("video_to_parts_skipped_back_over.json"), load("video_to_parts_skipped_forward_over.json")
    starts = sum(v[0] for v in played.values())
    priors = {
        "source": "gkovacs/coursera-analysis @ 6ec8686 (MIT): Coursera ML ml-004, 113 lectures",
        "bins": BINS,
        "seek_chains_per_play_start": round(sum(sum(v) for v in sources.values()) / starts, 4),
        "seek_sources": [round(x, 5) for x in histogram_of(sources)],
        "seek_destinations": [round(x, 5) for x in histogram_of(destinations)],
        "forward_per_back_second": round(sum(sum(v) for v in forward.values()) / sum(sum(v) for v in back.values()), 3),
    }
    out.write_text(json.dumps(priors, indent=1) + "\n")
    print(json.dumps(priors, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(__file__).resolve().parent.parent / "simulator" / "coursera_priors.json")
