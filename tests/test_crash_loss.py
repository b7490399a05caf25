"""What a ``kill -9`` loses of a busy process: no run that finished more than ``MAX_AGE``
(1 s, as docs/storage.md says) before the kill, however fast the process queues saves.

A child runs an agent in a tight loop (about 3,000 runs a second here), reporting each
finished run and its time on a pipe, and is killed with SIGKILL (``bench.crash``, which
``python -m bench crash`` runs too and prints the worst loss window of)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agno_nb.storage._batching import MAX_AGE
from bench.crash import BOUND_S, kill_during_runs

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def test_a_kill_loses_no_run_finished_more_than_the_bound_before_it(tmp_path: Path) -> None:
    assert BOUND_S == MAX_AGE  # the bench measures against what the store promises
    windows = []
    for i, seconds in enumerate((2.0, 2.5, 3.0)):  # a kill at a different phase each time
        trial = kill_during_runs(str(tmp_path / f"crash-{i}.duckdb"), seconds)
        assert trial.runs > 1000, trial  # a tight loop: the store is saturated
        assert trial.late == [], (
            f"{len(trial.late)} runs that finished more than {MAX_AGE:g} s before the kill "
            f"are not in the file (loss window {trial.window:.3f} s)"
        )
        windows.append(trial.window)
    assert max(windows) <= MAX_AGE
