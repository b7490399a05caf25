"""Trace analytics: the store as pandas DataFrames, and pictures of it.

::

    from agno_nb import analytics

    analytics.runs(agent="support", since="2026-11-01")      # one row per run
    analytics.traces()                                        # one row per trace
    analytics.spans(run=run_id)                               # one row per span
    analytics.sessions(); analytics.approvals()
    analytics.latency("tool"); analytics.usage(freq="1h")     # summaries
    analytics.sql("SELECT kind, count(*) FROM spans GROUP BY kind")
    analytics.waterfall(run_id); analytics.latency_plot(); analytics.usage_plot()

``db`` is a DuckDB path or a ``Store`` (default: ``agno_nb.storage.default_db()``, the
same as agents). Timestamps are tz-aware (UTC), durations float ms, tokens int, cost float
USD (NaN when a model has no known price). pandas and matplotlib are imported on first
use. See docs/tracing.md.
"""

from __future__ import annotations

from agno_nb.analytics._frames import (
    approvals,
    latency,
    runs,
    sessions,
    spans,
    sql,
    traces,
    usage,
)
from agno_nb.analytics._plots import latency_plot, usage_plot, waterfall

__all__ = [
    # DataFrames
    "approvals",
    "latency",
    "runs",
    "sessions",
    "spans",
    "sql",
    "traces",
    "usage",
    # pictures
    "latency_plot",
    "usage_plot",
    "waterfall",
]
