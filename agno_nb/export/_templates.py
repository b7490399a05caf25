"""The files of an exported service folder other than ``agent.py`` and the pins."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Names", "app_py", "dockerfile", "env_example", "readme", "smoke_test"]


@dataclass(frozen=True, slots=True)
class Names:
    agent: str  # the agent's name, as asked for
    agent_id: str  # its id (URL path)
    variable: str  # its variable in agent.py
    notebook: str  # the notebook's file name
    version: str  # agno-nb's version
    agno_nb_source: str  # "pypi" or the local checkout


def app_py(n: Names) -> str:
    return f'''"""The HTTP service of agent {n.agent!r}, exported from {n.notebook} by agno-nb.

    uvicorn app:app --port 7777        (or: agno-nb serve .)

Auth comes from the environment (AGNO_NB_API_KEYS, AGNO_NB_AUTH_FILE, AGNO_NB_JWT_*);
the store from AGNO_NB_DB, else the agent's own db. See README.md.
"""

import os

from agent import {n.variable}
from agno_nb.runtime import create_app

app = create_app(
    agents=[{n.variable}], db=os.environ.get("AGNO_NB_DB") or None, title={n.agent!r}, tune_gc=True
)
'''


def env_example(n: Names, secrets: list[str]) -> str:
    lines = [
        f"# The environment of the {n.agent!r} service. Copy to .env and fill in; never commit",
        "# the filled-in file. Load it with: set -a; . ./.env; set +a",
        "",
        "# the model (or point ANTHROPIC_BASE_URL at an Anthropic-compatible server)",
        "ANTHROPIC_API_KEY=",
        "",
        "# who may call the service: key=user[:role,role];key2=user2 (see README.md)",
        "AGNO_NB_API_KEYS=",
        "# or: AGNO_NB_AUTH_FILE=auth.toml   or: AGNO_NB_JWT_SECRET=... (HS256)",
        "",
        "# the store (DuckDB file; one service worker per file)",
        "AGNO_NB_DB=agents.duckdb",
    ]
    found = [s for s in secrets if s != "ANTHROPIC_API_KEY"]
    if found:
        lines += ["", "# hard-coded in the notebook; agent.py now reads them from here"]
        lines += [f"{name}=" for name in found]
    return "\n".join(lines) + "\n"


def dockerfile(n: Names) -> str:
    return f"""# The {n.agent!r} service (agno-nb export). Build and run from this folder:
#   docker build -t {n.agent_id}-agent .
#   docker run -p 7777:7777 --env-file .env -v agents-data:/data {n.agent_id}-agent
# agno-nb is not on PyPI yet: put its wheel in wheels/ first (README.md, Docker).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 AGNO_NB_DB=/data/agents.duckdb
WORKDIR /app
COPY requirements.txt ./
COPY wheels/ ./wheels/
RUN pip install --no-cache-dir --find-links ./wheels -r requirements.txt
COPY . .
RUN useradd --create-home agent && mkdir -p /data && chown agent /data
USER agent
VOLUME /data
EXPOSE 7777
# One worker per DuckDB file. Without auth configured the service refuses 0.0.0.0.
CMD ["python", "-m", "uvicorn", "app:app", "--host", "0.0.0.0", "--port", "7777"]
"""


def readme(n: Names, *, cells: str, secrets: list[str], warnings: list[str]) -> str:
    install = (
        f"`requirements.txt` installs agno-nb {n.version} from PyPI."
        if n.agno_nb_source == "pypi"
        else f"""agno-nb is not on PyPI yet, so `requirements.txt` installs it from the checkout it
was exported from (`{n.agno_nb_source}`), which works on this machine. Elsewhere, build
a wheel there and ship it in `wheels/`:

```bash
pip wheel --no-deps -w wheels {n.agno_nb_source}
sed -i 's#^agno-nb @ .*#agno-nb=={n.version}#' requirements.txt
pip install --find-links wheels -r requirements.txt
```"""
    )
    secret_note = (
        "Hard-coded secrets were found and are now read from the environment: "
        + ", ".join(f"`{s}`" for s in secrets)
        + " (listed in `.env.example`)."
        if secrets
        else "No hard-coded secrets were found."
    )
    notes = "".join(f"- {w}\n" for w in warnings) or "- none\n"
    base = "http://127.0.0.1:7777"
    return f"""# Agent `{n.agent}` as a service

Exported from `{n.notebook}` by `agno-nb export` (agno-nb {n.version}), from {cells}.
The API is compatible with Agno's AgentOS (its `AgentOSClient` and `RemoteAgent` work
against it), with SSE streaming and approvals.

| file | what |
|---|---|
| `agent.py` | the notebook code the agent needs, in notebook order (comments name the cells) |
| `app.py` | the FastAPI app (`agno_nb.runtime.create_app`) |
| `requirements.txt` | pinned from the exporting environment |
| `Dockerfile` | a container image (one worker) |
| `.env.example` | the environment it reads |
| `tests/test_smoke.py` | an offline smoke test (a fake Anthropic server plays the model) |

{secret_note}

## Run it

```bash
pip install -r requirements.txt
cp .env.example .env            # fill in ANTHROPIC_API_KEY and AGNO_NB_API_KEYS
set -a; . ./.env; set +a
uvicorn app:app --port 7777     # or: agno-nb serve . --port 7777
python tests/test_smoke.py      # offline check
```

Without auth configured the service answers only local connections, and refuses to start
on another interface unless started with `--insecure` (for a proxy that authenticates).
One worker per DuckDB file: a second worker stops at start-up (use Postgres for more).

## Call it

```bash
KEY=...   # an API key from AGNO_NB_API_KEYS, e.g. AGNO_NB_API_KEYS='k1=ana:approver;k2=bob'
curl -N {base}/agents/{n.agent_id}/runs -H "Authorization: Bearer $KEY" \\
     -F message='Where is order 42?'                           # SSE events
curl {base}/agents/{n.agent_id}/runs -H "Authorization: Bearer $KEY" \\
     -H 'Content-Type: application/json' -d '{{"message": "Hello", "stream": false}}'
curl "{base}/approvals?status=pending" -H "Authorization: Bearer $KEY"
curl {base}/approvals/APPROVAL_ID/resolve -H "Authorization: Bearer $APPROVER_KEY" \\
     -H 'Content-Type: application/json' -d '{{"status": "approved"}}'
curl -N {base}/agents/{n.agent_id}/runs/RUN_ID/continue -H "Authorization: Bearer $KEY" -X POST
curl "{base}/sessions" -H "Authorization: Bearer $KEY"
curl "{base}/traces" -H "Authorization: Bearer $KEY"
```

OpenAPI docs: `{base}/docs`. Health: `{base}/health`.

## Installing agno-nb

{install}

## Docker

```bash
docker build -t {n.agent_id}-agent . && docker run -p 7777:7777 --env-file .env {n.agent_id}-agent
```

## Export notes

{notes}"""


def smoke_test(n: Names) -> str:
    return '''"""Offline smoke test of the exported service: a fake Anthropic plays the model.

    python tests/test_smoke.py        (or: python -m pytest tests)
"""

import asyncio
import importlib
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
KEY = "smoke-test-key"
ANSWER = "Hello from the smoke test."


def load_app(fake_url: str, db: str):
    for name in list(os.environ):
        if name.startswith(("AGNO_NB_JWT_", "AGNO_NB_AUTH_FILE")):
            del os.environ[name]
    os.environ.update(
        ANTHROPIC_BASE_URL=fake_url, ANTHROPIC_API_KEY="smoke-test", AGNO_NB_DB=db,
        AGNO_NB_API_KEYS=f"{KEY}=smoke-tester:admin",
    )
    sys.path.insert(0, str(HERE))
    for module in ("app", "agent"):
        sys.modules.pop(module, None)
    return importlib.import_module("app").app


async def exercise(app) -> None:
    import httpx2

    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            assert (await client.get("/health")).status_code == 200
            assert (await client.get("/agents")).status_code == 401
            headers = {"Authorization": f"Bearer {KEY}"}
            agent_id = next(iter(app.state.service.agents))  # the one agent of this service
            agents = (await client.get("/agents", headers=headers)).json()
            assert [a["id"] for a in agents] == [agent_id], agents
            reply = await client.post(
                f"/agents/{agent_id}/runs", data={"message": "Hello", "stream": "false"},
                headers=headers,
            )
            assert reply.status_code == 200, reply.text
            run = reply.json()
            assert run["status"] in ("COMPLETED", "PAUSED"), run
            if app.state.service.agents[agent_id].model.provider == "anthropic":
                assert run["content"] == ANSWER, run["content"]


def test_the_service_answers() -> None:
    from agno_nb.testing import FakeAnthropic, Turn

    fake = FakeAnthropic(handler=lambda request: Turn.text(ANSWER))
    with fake.serve() as url, tempfile.TemporaryDirectory() as tmp:
        asyncio.run(exercise(load_app(url, os.path.join(tmp, "smoke.duckdb"))))


if __name__ == "__main__":
    test_the_service_answers()
    print("smoke test passed")
'''
