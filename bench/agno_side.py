"""Agno's side of the bench: run by the python of ``bench/.venv-agno``, never imports
agno_nb. ``python agno_side.py COMMAND --url URL ...`` prints one JSON object.

It times Agno with the same helpers, scenario and raw SDK baseline code as the agno-nb
side (``bench/_stats.py``, ``_scenario.py``, ``_raw.py``: stdlib only), and takes the raw
SDK baselines with this venv's anthropic, in this process, interleaved with Agno.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

# Import the shared stdlib-only modules as ``bench.*``; keep bench/ itself off the path.
_BENCH = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _BENCH]
sys.path.append(str(_BENCH.parent))

from bench._raw import raw_create, raw_stream, raw_sync_create  # noqa: E402
from bench._scenario import (  # noqa: E402
    API_KEY,
    INSTRUCTIONS,
    MAX_TOKENS,
    MODEL_ID,
    PROMPT,
    get_weather,
)
from bench._stats import (  # noqa: E402
    Loops,
    head_tail,
    instantiation_us,
    interleaved,
    kib_per_object,
    sequential,
    summarize,
)

Json = dict[str, Any]


def agno_agent(
    url: str, *, db: Any = None, history: bool = False, session_id: str | None = None
) -> Any:
    from agno.agent import Agent  # type: ignore[import-not-found]
    from agno.models.anthropic import Claude  # type: ignore[import-not-found]

    model = Claude(
        id=MODEL_ID, api_key=API_KEY, max_tokens=MAX_TOKENS, client_params={"base_url": url}
    )
    return Agent(
        model=model,
        instructions=INSTRUCTIONS,
        tools=[get_weather],
        db=db,
        add_history_to_context=history,
        num_history_runs=3 if history else None,
        session_id=session_id,
    )


def sqlite_db(tmp: str, name: str) -> Any:
    from agno.db.sqlite import SqliteDb  # type: ignore[import-not-found]

    return SqliteDb(db_file=str(Path(tmp) / name))


def versions() -> Json:
    return {name: metadata.version(name) for name in ("agno", "anthropic", "sqlalchemy")}


# -- commands ------------------------------------------------------------------------------


def check_run(output: Any) -> None:
    """The scenario really happened (one tool call, final text): not a timing check."""
    tools = getattr(output, "tools", None) or []
    if len(tools) != 1 or not output.content:
        raise RuntimeError(f"unexpected Agno run: tools={tools!r} content={output.content!r}")


def cmd_instantiate(args: argparse.Namespace) -> Json:
    db = sqlite_db(args.tmp, "instantiate.db")

    def factory() -> Any:
        return agno_agent(args.url, db=db)

    timing = instantiation_us(factory, n=args.n, repeats=args.repeats)
    return {"us": timing, "kib": kib_per_object(factory, n=args.n)}


def cmd_overhead(args: argparse.Namespace) -> Json:
    from anthropic import Anthropic, AsyncAnthropic

    loops = Loops()
    create_client = AsyncAnthropic(api_key=API_KEY, base_url=args.url)
    stream_client = AsyncAnthropic(api_key=API_KEY, base_url=args.url)
    sync_client = Anthropic(api_key=API_KEY, base_url=args.url)
    plain = agno_agent(args.url)
    stored = agno_agent(
        args.url, db=sqlite_db(args.tmp, "overhead.db"), history=True, session_id="overhead"
    )
    sync_agent = agno_agent(args.url)
    variants: dict[str, Callable[[], Any]] = {
        "raw_create": loops.runner(lambda: raw_create(create_client)),
        "raw_stream": loops.runner(lambda: raw_stream(stream_client)),
        "raw_sync_create": lambda: raw_sync_create(sync_client),
        "agno_arun": loops.runner(lambda: plain.arun(PROMPT)),
        "agno_arun_sqlite_history": loops.runner(lambda: stored.arun(PROMPT)),
        "agno_run_sync": lambda: sync_agent.run(PROMPT),
    }
    check_run(variants["agno_arun"]())
    samples = interleaved(
        variants, iterations=args.iterations, warmup=args.warmup, label="Agno overhead"
    )
    loops.close()
    return {"samples": samples}


def cmd_session(args: argparse.Namespace) -> Json:
    loops = Loops()
    agent = agno_agent(
        args.url, db=sqlite_db(args.tmp, "session.db"), history=True, session_id="long"
    )
    run = loops.runner(lambda: agent.arun(PROMPT))
    warm = loops.runner(lambda: agent.arun(PROMPT, session_id="warm-up"))
    for _ in range(args.warm_up):  # as agno-nb's side: another session first
        warm()
    samples = sequential(run, runs=args.runs, label="Agno session")
    loops.close()
    return {"head_tail": head_tail(samples), "all": summarize(samples)}


def cmd_new_agent(args: argparse.Namespace) -> Json:
    loops = Loops()
    reused = agno_agent(args.url)
    variants: dict[str, Callable[[], Any]] = {
        "reuse": loops.runner(lambda: reused.arun(PROMPT)),
        "new": loops.runner(lambda: agno_agent(args.url).arun(PROMPT)),
    }
    samples = interleaved(
        variants, iterations=args.iterations, warmup=args.warmup, label="Agno new agent"
    )
    loops.close()
    return {"samples": samples}


COMMANDS: dict[str, Callable[[argparse.Namespace], Json]] = {
    "instantiate": cmd_instantiate,
    "overhead": cmd_overhead,
    "session": cmd_session,
    "new-agent": cmd_new_agent,
}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=sorted(COMMANDS))
    parser.add_argument("--url", default="http://127.0.0.1:9")
    parser.add_argument("--tmp", required=True)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--warm-up", type=int, default=0)
    args = parser.parse_args()
    result = COMMANDS[args.command](args)
    print(json.dumps({"versions": versions(), **result}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
