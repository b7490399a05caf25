"""The load generator of the ``service`` section, in its own process (stdlib + httpx2):

    python -m bench._load URL --concurrency 20 --requests N --warmup W [--key KEY]
        [--new-session]

``concurrency`` clients POST a run (form field ``message``, SSE) in a loop until
``requests`` are done; each reply is read whole and must end with ``RunCompleted``. Prints
one JSON object: count, errors, seconds, latencies (ms). ``--pid`` names the server whose
CPU time (user + system, from /proc) is measured over the timed part.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from typing import Any

import httpx2

from bench._scenario import PROMPT


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """User + system CPU time of a process, all its threads (/proc/PID/stat), or of one
    of its threads (/proc/PID/task/TID/stat; the main thread's TID is the PID)."""
    path = f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat"
    with open(path) as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {args.key}"} if args.key else {}
    limits = httpx2.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    async with httpx2.AsyncClient(base_url=args.url, limits=limits, timeout=60) as client:

        async def one() -> float:
            start = time.perf_counter()
            data = {"message": PROMPT}
            if args.new_session:  # the client names a new session (as a chat UI does)
                data["session_id"] = f"ses-{uuid.uuid4().hex}"
            reply = await client.post(args.path, data=data, headers=headers)
            body = reply.text
            if reply.status_code != 200 or "RunCompleted" not in body[-2000:]:
                raise RuntimeError(f"{reply.status_code}: {body[-300:]}")
            return time.perf_counter() - start

        async def worker(quota: list[int], out: list[float], errors: list[str]) -> None:
            while quota[0] > 0:
                quota[0] -= 1
                try:
                    out.append(await one())
                except Exception as exc:  # counted, shown, never fatal
                    errors.append(repr(exc)[:300])

        async def phase(count: int) -> tuple[list[float], list[str], float]:
            quota, out, errors = [count], [], []
            start = time.perf_counter()
            await asyncio.gather(*(worker(quota, out, errors) for _ in range(args.concurrency)))
            return out, errors, time.perf_counter() - start

        await phase(args.warmup)
        cpu_before = cpu_seconds(args.pid) if args.pid else 0.0
        main_before = cpu_seconds(args.pid, args.pid) if args.pid else 0.0
        latencies, errors, seconds = await phase(args.requests)
        cpu = cpu_seconds(args.pid) - cpu_before if args.pid else None
        loop_cpu = cpu_seconds(args.pid, args.pid) - main_before if args.pid else None
    return {
        "count": len(latencies),
        "errors": errors[:5],
        "error_count": len(errors),
        "seconds": seconds,
        "latencies_ms": [x * 1000 for x in latencies],
        "cpu_s": cpu,
        "cpu_main_s": loop_cpu,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--path", default="/agents/bench/runs")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--key")
    parser.add_argument("--pid", type=int)
    parser.add_argument("--new-session", action="store_true", help="a new session_id per run")
    print(json.dumps(asyncio.run(_run(parser.parse_args()))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
