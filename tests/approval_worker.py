"""A worker process for the cross-process approval tests.

    python -m tests.approval_worker pause DB PROMPT USER           -> {"run_id", "approvals"}
    python -m tests.approval_worker decide DB APPROVAL_ID USER STATUS [ROLES]
    python -m tests.approval_worker continue DB RUN_ID
    python -m tests.approval_worker race-decide DB DIR N   (decide approval i when DIR/go_i appears)
    python -m tests.approval_worker race-continue DB DIR N (continue run i when DIR/go_i appears)

Each prints one JSON line per operation: {"ok": true, ...} or {"ok": false, "error": TYPE}.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from agno_nb import Principal
from agno_nb.exceptions import AgnoNBError
from tests.approval_agent import build


def run_worker(env: dict[str, str], *args: str) -> dict[str, Any]:
    """Run this worker in a fresh process (from a test) and return its last JSON line."""
    out = subprocess.run(
        [sys.executable, "-m", "tests.approval_worker", *args],
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _attempt(fn: Any) -> dict[str, Any]:
    try:
        return {"ok": True, **fn()}
    except AgnoNBError as exc:
        return {"ok": False, "error": type(exc).__name__, "message": str(exc)}


def _wait_for(path: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:  # the test gave up: never linger as an orphan
            raise SystemExit(f"no {path.name} after {timeout:g} s")
        time.sleep(0.0005)


def main(argv: list[str]) -> None:
    command, db = argv[0], argv[1]
    agent = build(db)
    store = agent.store
    assert store is not None
    if command == "pause":
        run = agent.run(argv[2], user_id=argv[3])
        print(
            json.dumps(
                {
                    "run_id": run.run_id,
                    "status": str(run.status),
                    "approvals": [a.approval_id for a in run.approvals],
                }
            )
        )
    elif command == "decide":
        roles = argv[5].split(",") if len(argv) > 5 else []
        who = Principal(argv[3], roles)
        print(
            json.dumps(
                _attempt(
                    lambda: {
                        "status": agent.desk.decide(
                            argv[2], argv[4], who, reason="from a worker"
                        ).status
                    }
                )
            )
        )
    elif command == "continue":
        print(json.dumps(_attempt(lambda: {"status": str(agent.continue_run(argv[2]).status)})))
    elif command in ("race-decide", "race-continue"):
        folder, trials = Path(argv[2]), int(argv[3])
        ids = json.loads((folder / "ids.json").read_text())
        for i, target in enumerate(ids[:trials]):
            _wait_for(folder / f"go_{i}")
            if command == "race-decide":
                who = Principal(f"user{os.getpid()}", ["admin"])
                result = _attempt(
                    lambda t=target, w=who: {"status": agent.desk.approve(t, w).status}
                )
            else:
                result = _attempt(lambda t=target: {"status": str(agent.continue_run(t).status)})
            tmp = folder / f"partial_{i}_{os.getpid()}"
            tmp.write_text(json.dumps(result))
            tmp.rename(folder / f"result_{i}_{os.getpid()}")  # appears whole, never half-written
    else:
        raise SystemExit(f"unknown command {command!r}")
    store.close()


if __name__ == "__main__":
    main(sys.argv[1:])
