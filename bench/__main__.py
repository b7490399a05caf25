"""``python -m bench [section ...]``: run all sections (or the ones named), print each
table as it is done, then write ``bench/RESULTS.md``.

To add a section: write a module with a function ``fn(ctx: Context) -> Section`` and add
one line to ``SECTIONS`` below. Progress goes to stderr, one line per phase.
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from bench._context import AGNO_PIN, BENCH_DIR, Context, wait_for_quiet
from bench._report import Section, header, load_average, render, summary, write_results
from bench._stats import progress

# name -> "module:function"; the order here is the order of the report
SECTIONS: dict[str, str] = {
    "import": "bench.startup:import_time",
    "instantiate": "bench.startup:instantiation",
    "overhead": "bench.runs:overhead",
    "session": "bench.runs:session_length",
    "new-agent": "bench.runs:new_agent",
    "approvals": "bench.approvals:decision_latency",
    "service": "bench.service:service",
    "tracing": "bench.tracing:tracing",
    "crash": "bench.crash:crash_loss",
}

SectionFn = Callable[[Context], Section]


def load(name: str) -> SectionFn:
    module, _, function = SECTIONS[name].partition(":")
    fn: SectionFn = getattr(importlib.import_module(module), function)
    return fn


def versions(ctx: Context) -> dict[str, str]:
    import agno_nb

    found = {"agno-nb": agno_nb.__version__}
    for package in ("anthropic", "duckdb", "pydantic"):
        found[package] = metadata.version(package)
    agno = ctx.agno_if_loaded
    if agno is not None:
        found["Agno"] = agno.version or f"unavailable ({agno.reason})"
        if agno.version and agno.version != AGNO_PIN.partition("==")[2]:
            found["Agno"] += f" ({AGNO_PIN} could not be installed here)"
    return found


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "sections",
        nargs="*",
        metavar="section",
        help=f"any of {', '.join(SECTIONS)} (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="a fifth of the iterations")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="write the report here (default: bench/RESULTS.md when every "
        "section runs; a partial run only prints unless --output is given)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    unknown = [name for name in args.sections if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    names = args.sections or list(SECTIONS)
    ctx = Context(scale=0.2 if args.quick else 1.0)
    started = time.perf_counter()
    load_before = load_average()
    done: list[Section] = []
    try:
        for name in names:
            progress(f"section {name}")
            quiet = wait_for_quiet()
            section_start = time.perf_counter()
            section = load(name)(ctx)
            section.notes.append(quiet)
            section.seconds = time.perf_counter() - section_start
            print(render(section), flush=True)
            done.append(section)
    finally:
        ctx.close()
    total = time.perf_counter() - started
    print(summary(done))
    print(f"\nWhole bench: {total:.0f} s.")
    output: Path | None = args.output
    if output is None and not args.sections:
        output = BENCH_DIR / "RESULTS.md"
    if output is not None and not args.no_write:
        command = shlex.join(["python", "-m", "bench", *argv])
        write_results(output, header(command, versions(ctx), load_before), done, total)
        progress(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
