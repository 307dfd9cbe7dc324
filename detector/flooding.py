"""``screen_flooding``: comments, clicks or page views far beyond what people do.

Templated text counts as one text (digits are folded: ``好好学习，天天向上。1712345678901``
and ``…1712345679999`` are the same template), so a bot's "different" comments are seen
as the repetition they are.
"""

from __future__ import annotations

from learnguard.detector.base import Evidence, Flag, Reason, SessionView, combine


class ScreenFloodingDetector:
    pattern = "screen_flooding"

    def detect(self, view: SessionView) -> list[Flag]:
        f, cohort, t = view.features, view.cohort, view.thresholds
        found: list[Evidence] = []
        repeats, comments = f["max_comment_repeats"], f["comments"]
        if repeats >= t.template_repeats and comments >= t.comments_min:
            top = max(view.state.comment_templates.items(), key=lambda kv: kv[1], default=(0, 0))[0]
            sample = view.state.comment_samples.get(top, "")
            found.append(Evidence(Reason(
                "templated_comments", f"{comments:.0f} comments, {repeats:.0f} of them the same text once numbers are "
                f"ignored (flagged from {t.template_repeats} repeats among {t.comments_min}+ comments)"
                + (f": “{sample}”" if sample else ""),
                repeats, float(t.template_repeats),
                params={"comments": comments, "repeats": repeats, "min_repeats": t.template_repeats,
                        "min_comments": t.comments_min, "text": sample}), 0.9, True))
        rate_limit = max(t.comments_per_hour_floor, cohort.baseline("comments_per_hour") or 0.0)
        if comments >= t.comments_min and f["comments_per_hour"] > rate_limit:
            found.append(Evidence(Reason(
                "comment_rate", f"{f['comments_per_hour']:.0f} comments per hour; flagged above {rate_limit:.0f} "
                "(the larger of a fixed floor and the cohort's 99th percentile)",
                round(f["comments_per_hour"], 1), rate_limit,
                params={"rate": f["comments_per_hour"], "limit": rate_limit}), 0.7, True))
        click_limit = max(t.clicks_per_s_floor, cohort.baseline("max_clicks_per_s") or 0.0)
        if f["burst_clicks"] >= t.burst_clicks_min and f["max_clicks_per_s"] >= click_limit:
            found.append(Evidence(Reason(
                "click_storm",
                f"up to {f['max_clicks_per_s']:.0f} clicks in one second, {f['burst_clicks']:.0f} clicks "
                f"inside bursts; flagged from {click_limit:.0f}/s sustained over {t.burst_clicks_min} clicks",
                f["max_clicks_per_s"], click_limit,
                params={"rate": f["max_clicks_per_s"], "clicks": f["burst_clicks"], "limit": click_limit,
                        "min_clicks": t.burst_clicks_min}), 0.85, True))
        dwell_limit = max(t.short_dwells_floor, cohort.baseline("short_dwells") or 0.0)
        if f["short_dwells"] >= dwell_limit:
            found.append(Evidence(Reason(
                "page_cycling", f"{f['short_dwells']:.0f} pages left within 4 s of opening them (of "
                f"{f['page_views']:.0f} page views); flagged from {dwell_limit:.0f}",
                f["short_dwells"], dwell_limit,
                params={"pages": f["short_dwells"], "views": f["page_views"], "limit": dwell_limit}), 0.85, True))
        state = view.state
        return combine(state.session_id, self.pattern, found, state.first_ts, state.last_ts)
