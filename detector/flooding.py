"""``screen_flooding``: comments, clicks or page views far beyond what people do.

Templated text counts as one text (digits are folded: ``好好学习，天天向上。1712345678901``
and ``…1712345679999`` are the same template), so a bot's "different" comments are seen
as the repetition they are.
"""

from __future__ import annotations

from detector.base import Evidence, Flag, Reason, SessionView, combine

TEMPLATE_REPEATS = 5
COMMENTS_MIN = 10
COMMENTS_PER_HOUR_FLOOR = 30.0
BURST_CLICKS_MIN = 15
CLICKS_PER_S_FLOOR = 5.0
SHORT_DWELLS_FLOOR = 20.0


class ScreenFloodingDetector:
    pattern = "screen_flooding"

    def detect(self, view: SessionView) -> list[Flag]:
        f, cohort = view.features, view.cohort
        found: list[Evidence] = []
        repeats, comments = f["max_comment_repeats"], f["comments"]
        if repeats >= TEMPLATE_REPEATS and comments >= COMMENTS_MIN:
            found.append(Evidence(Reason(
                "templated_comments", f"{comments:.0f} comments, {repeats:.0f} of them the same text once numbers are "
                f"ignored (flagged from {TEMPLATE_REPEATS} repeats among {COMMENTS_MIN}+ comments)",
                repeats, float(TEMPLATE_REPEATS)), 0.9, True))
        rate_limit = max(COMMENTS_PER_HOUR_FLOOR, cohort.baseline("comments_per_hour") or 0.0)
        if comments >= COMMENTS_MIN and f["comments_per_hour"] > rate_limit:
            found.append(Evidence(Reason(
                "comment_rate", f"{f['comments_per_hour']:.0f} comments per hour; flagged above {rate_limit:.0f} "
                "(the larger of a fixed floor and the cohort's 99th percentile)",
                round(f["comments_per_hour"], 1), rate_limit), 0.7, True))
        click_limit = max(CLICKS_PER_S_FLOOR, cohort.baseline("max_clicks_per_s") or 0.0)
        if f["burst_clicks"] >= BURST_CLICKS_MIN and f["max_clicks_per_s"] >= click_limit:
            found.append(Evidence(Reason(
                "click_storm", f"up to {f['max_clicks_per_s']:.0f} clicks in one second, {f['burst_clicks']:.0f} clicks "
                f"inside bursts; flagged from {click_limit:.0f}/s sustained over {BURST_CLICKS_MIN} clicks",
                f["max_clicks_per_s"], click_limit), 0.85, True))
        dwell_limit = max(SHORT_DWELLS_FLOOR, cohort.baseline("short_dwells") or 0.0)
        if f["short_dwells"] >= dwell_limit:
            found.append(Evidence(Reason(
                "page_cycling", f"{f['short_dwells']:.0f} pages left within 4 s of opening them (of "
                f"{f['page_views']:.0f} page views); flagged from {dwell_limit:.0f}",
                f["short_dwells"], dwell_limit), 0.85, True))
        state = view.state
        return combine(state.session_id, self.pattern, found, state.first_ts, state.last_ts)
