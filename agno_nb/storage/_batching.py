"""How the store thread makes batches of its jobs: which job supersedes which, which waits
for the next batch, how long a batch waits for company, and how its write jobs run.

A write-behind job (nobody waits for it) is to be committed within ``MAX_AGE`` (1 s) of
being queued, however busy the process: a batch waits for company (``coalesce_wait``)
only until its oldest job would miss that, less what writing the batch may take
(``gather_deadline``); a batch that has ``MAX_BATCH`` jobs waits no more; and a caller
that queues faster than the thread writes waits for room (``backlog``). A run's first
save may wait for one more batch (``carry``), so its bound is twice that. So a
``kill -9`` loses the saves of the last ``MAX_AGE`` at most, unless writing one batch
takes longer than half of it (measured under a tight loop of runs:
``tests/test_crash_loss.py``, ``python -m bench crash``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from enum import Enum, auto
from typing import Any

import duckdb

__all__ = [
    "MAX_AGE", "MAX_BATCH", "Fn", "Job", "Kind", "backlog", "behind", "carry",
    "coalesce_wait", "due", "execute", "gather_deadline", "latest",
]  # fmt: skip

Fn = Callable[[duckdb.DuckDBPyConnection], Any]

MAX_BATCH = 4096
MAX_AGE = 1.0  # seconds from queueing a write-behind job to its commit, at most
_COALESCE = 0.1  # seconds a write-behind batch waits for more jobs, at least
_MAX_COALESCE = 1.0  # ... and at most
_DUTY = 20  # the wait is at least this many times the last write batch's time
_MARGIN = 0.05  # seconds kept, besides twice the last batch's writing time, to write
_MIN_BACKLOG = 1024  # queued jobs a save never waits behind


class Kind(Enum):
    CALL = auto()
    READ = auto()
    WRITE = auto()
    FLUSH = auto()
    STOP = auto()


@dataclass(slots=True)
class Job:
    kind: Kind
    fn: Fn | None = None
    future: Future[Any] | None = None
    label: str = ""
    key: str | None = None  # a later write job with the same key supersedes this one
    parallel: bool = False  # a CALL or READ that may use every core (analytics)
    defer: bool = False  # a write-behind job that may wait for the next batch, once
    around: bool = False  # a READ that needs none of the queued writes: may run before them
    sealed: bool = False  # never superseded: it writes more than the later jobs of its key
    due: float = math.inf  # time.monotonic() by which a write-behind job is to be committed


def coalesce_wait(last_write_seconds: float) -> float:
    """How long a batch of write-behind jobs waits for more (see ``StoreThread._gather``)."""
    return min(_MAX_COALESCE, max(_COALESCE, _DUTY * last_write_seconds))


def due(defer: bool) -> float:
    """When a write-behind job queued now must be committed (a deferred one: a batch later)."""
    return time.monotonic() + (2 * MAX_AGE if defer else MAX_AGE)


def gather_deadline(jobs: list[Job], last_write_seconds: float) -> float:
    """When the batch that starts with ``jobs`` stops waiting for company: after
    ``coalesce_wait``, or sooner, when its most urgent job is due less the time writing
    may take: half of ``MAX_AGE``, or twice what the last batch took if that is more
    (under GIL contention and a loaded machine the same batch takes two or three times
    as long from one batch to the next; a deadline already past means at once, and the
    smaller batch then writes faster). The jobs queued meanwhile are younger, so due
    later."""
    writing = max(MAX_AGE / 2, _MARGIN + 2 * last_write_seconds)
    soonest = min(job.due for job in jobs) - writing
    return min(time.monotonic() + coalesce_wait(last_write_seconds), soonest)


def backlog(jobs: int, seconds: float) -> int:
    """How many queued jobs the store thread writes in half of ``MAX_AGE``, at the pace of
    its last batch (``jobs`` written in ``seconds``); at least ``_MIN_BACKLOG``. A
    write-behind save waits while the queue holds more (``StoreThread.write``)."""
    return max(_MIN_BACKLOG, int(jobs * MAX_AGE / 2 / max(seconds, 1e-3)))


def execute(con: duckdb.DuckDBPyConnection, fns: list[Fn], careful: bool) -> None:
    """Run a batch's write jobs in order, but: jobs with the same ``group`` attribute go
    to one ``group(con, jobs, careful)`` call (``careful`` when a failed batch is redone),
    and jobs marked ``independent`` (they write rows no other job writes: spans) wait for
    that call, so that they do not split the group. Any other job runs in its place."""
    group: Any = None
    members: list[Fn] = []
    independent: list[Fn] = []

    def run_waiting() -> None:
        nonlocal group
        if members:
            group(con, members, careful)
        for fn in independent:
            fn(con)
        group = None
        members.clear()
        independent.clear()

    for fn in fns:
        fn_group = getattr(fn, "group", None)
        if fn_group is not None:
            if group is not None and fn_group != group:
                run_waiting()
            group = fn_group
            members.append(fn)
        elif getattr(fn, "independent", False):
            independent.append(fn)
        else:
            run_waiting()
            fn(con)
    run_waiting()


def carry(jobs: list[Job]) -> list[Job]:
    """Take the deferred jobs out of ``jobs`` (the batch about to run): those not carried
    before and not superseded in the batch, when nobody waits for any job of it. A run
    that ends within two batches is then written once, not inserted then updated."""
    if not all(behind(job) for job in jobs):
        return []
    carried = [job for job in latest(jobs) if job.defer]
    taken = {id(job) for job in carried}
    jobs[:] = [job for job in jobs if id(job) not in taken]
    for job in carried:
        job.defer = False
    return carried


def latest(jobs: list[Job]) -> list[Job]:
    """``jobs`` without those that a later job of the same ``key`` supersedes (a
    ``sealed`` job is never superseded)."""
    last = {job.key: index for index, job in enumerate(jobs) if job.key is not None}
    return [
        job
        for index, job in enumerate(jobs)
        if job.key is None or job.sealed or last[job.key] == index
    ]


def behind(job: Job) -> bool:
    """A write-behind job: nobody waits for it."""
    return job.kind is Kind.WRITE and job.future is None
