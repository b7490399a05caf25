"""Agno's AgentOS serving the scenario's agent (run by the Python of ``bench/.venv-agno``):

    python -m uvicorn _agentos_app:app --app-dir bench

A SqliteDb keeps its sessions (``BENCH_DB``), as a service keeps them; telemetry off.
Never imports agno_nb.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_BENCH = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _BENCH]
sys.path.append(str(_BENCH.parent))

from agno.agent import Agent  # type: ignore[import-not-found]  # noqa: E402
from agno.db.sqlite import SqliteDb  # type: ignore[import-not-found]  # noqa: E402
from agno.models.anthropic import Claude  # type: ignore[import-not-found]  # noqa: E402
from agno.os import AgentOS  # type: ignore[import-not-found]  # noqa: E402

from bench._scenario import API_KEY, INSTRUCTIONS, MAX_TOKENS, MODEL_ID, get_weather  # noqa: E402

agent = Agent(
    id="bench",
    name="bench",
    model=Claude(id=MODEL_ID, api_key=API_KEY, max_tokens=MAX_TOKENS),
    instructions=INSTRUCTIONS,
    tools=[get_weather],
    db=SqliteDb(db_file=os.environ["BENCH_DB"]),
)
app = AgentOS(agents=[agent], telemetry=False).get_app()
