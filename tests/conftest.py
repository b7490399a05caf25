"""Shared fixtures. No test reaches a real model: Claude always talks to FakeAnthropic."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agno_nb.testing import FakeAnthropic


@pytest.fixture(autouse=True)
def _offline_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real API key or endpoint, and a default store inside the test's tmp dir."""
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "AGNO_NB_USER", "AGNO_NB_ROLES",
                 "AGNO_NB_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT",
                 "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")  # closed port: fails fast
    monkeypatch.setenv("AGNO_NB_DB", str(tmp_path / "default.duckdb"))


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeAnthropic]:
    fake = FakeAnthropic()
    with fake.serve():
        yield fake


@pytest.fixture
def fake(fake_server: FakeAnthropic) -> FakeAnthropic:
    """The session's FakeAnthropic on 127.0.0.1, with an empty script: call ``reset``."""
    fake_server.reset()
    return fake_server


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "agents.duckdb")
