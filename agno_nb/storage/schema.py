"""The DuckDB schema of the store, as numbered migrations.

``schema_version`` records each migration applied. ``migrate`` runs, in order and each in
its own transaction, the migrations a database has not seen yet. A later feature changes
the schema by appending ``Migration(2, ...)`` to ``MIGRATIONS``: never edit a migration
that has shipped, since files in the wild have it applied already.

Indexes: DuckDB's ART indexes pay off for selective equality filters (``session_id = ?``
on a large table), not for low-cardinality columns
(``status``) or ranges (``created_at``, where the min/max zone maps already prune), and
each one costs on every insert and checkpoint; so ``runs`` is indexed on ``session_id``
and ``user_id`` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from agno_nb.exceptions import StoreError

if TYPE_CHECKING:
    import duckdb

__all__ = ["LATEST_VERSION", "MIGRATIONS", "Migration", "migrate"]


@dataclass(frozen=True, slots=True)
class Migration:
    """One step of the schema: SQL statements applied together in one transaction."""

    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: list[Migration] = [
    Migration(
        1,
        "sessions and runs",
        (
            """CREATE TABLE sessions (
                session_id VARCHAR PRIMARY KEY,
                user_id VARCHAR NOT NULL,
                agent_id VARCHAR,
                created_at TIMESTAMPTZ NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL,
                state JSON
            )""",
            "CREATE INDEX sessions_user_idx ON sessions (user_id)",
            """CREATE TABLE runs (
                run_id VARCHAR PRIMARY KEY,
                session_id VARCHAR NOT NULL,
                user_id VARCHAR NOT NULL,
                agent_id VARCHAR,
                agent_name VARCHAR,
                status VARCHAR NOT NULL,
                input VARCHAR,
                content JSON,
                messages JSON,
                tool_calls JSON,
                model VARCHAR,
                stop_reason VARCHAR,
                error VARCHAR,
                error_type VARCHAR,
                trace_id VARCHAR,
                input_tokens INTEGER,
                output_tokens INTEGER,
                cache_read_tokens INTEGER,
                cache_write_tokens INTEGER,
                requests INTEGER,
                created_at TIMESTAMPTZ NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL,
                finished_at TIMESTAMPTZ,
                duration_ms DOUBLE,
                lease_owner VARCHAR,
                lease_expires_at TIMESTAMPTZ
            )""",
            "CREATE INDEX runs_session_idx ON runs (session_id)",
            "CREATE INDEX runs_user_idx ON runs (user_id)",
        ),
    ),
    Migration(
        2,
        "approvals and their audit trail",
        (
            """CREATE TABLE approvals (
            approval_id VARCHAR PRIMARY KEY,
            run_id VARCHAR NOT NULL,
            session_id VARCHAR NOT NULL,
            agent_id VARCHAR,
            tool_call_id VARCHAR NOT NULL,
            tool_name VARCHAR NOT NULL,
            args JSON,
            required_role VARCHAR NOT NULL,
            requested_by VARCHAR NOT NULL,
            requested_at TIMESTAMPTZ NOT NULL,
            expires_at TIMESTAMPTZ,
            status VARCHAR NOT NULL,
            decided_by VARCHAR,
            decided_at TIMESTAMPTZ,
            reason VARCHAR,
            edited_args JSON,
            self_approval BOOLEAN NOT NULL
        )""",
            "CREATE INDEX approvals_run_idx ON approvals (run_id)",
            """CREATE TABLE approval_events (
            approval_id VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            user_id VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            outcome VARCHAR NOT NULL,
            detail VARCHAR
        )""",
        ),
    ),
    Migration(
        3,
        "trace spans; run owners and root spans",
        (
            "ALTER TABLE runs ADD COLUMN root_span_id VARCHAR",
            "ALTER TABLE runs ADD COLUMN owner VARCHAR",
            """CREATE TABLE spans (
            trace_id VARCHAR NOT NULL,
            span_id VARCHAR NOT NULL,
            parent_span_id VARCHAR,
            name VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            start_time TIMESTAMPTZ NOT NULL,
            end_time TIMESTAMPTZ NOT NULL,
            duration_ms DOUBLE NOT NULL,
            status VARCHAR NOT NULL,
            status_message VARCHAR,
            run_id VARCHAR,
            session_id VARCHAR,
            user_id VARCHAR,
            agent_id VARCHAR,
            model VARCHAR,
            tool_name VARCHAR,
            prompt_tokens BIGINT,
            completion_tokens BIGINT,
            cache_read_tokens BIGINT,
            cache_write_tokens BIGINT,
            cost_prompt_usd DOUBLE,
            cost_completion_usd DOUBLE,
            cost_usd DOUBLE,
            input_value VARCHAR,
            output_value VARCHAR,
            error_type VARCHAR,
            attributes JSON
        )""",
            # the spans with every attribute under its OpenInference name (json_merge_patch
            # with '{}' drops the null ones)
            """CREATE VIEW openinference_spans AS
            SELECT trace_id, span_id, parent_span_id, name, start_time, end_time, status,
                status_message, json_merge_patch('{}', json_merge_patch(json_object(
                    'openinference.span.kind', kind, 'session.id', session_id,
                    'agent.name', CASE WHEN kind = 'AGENT' THEN substr(name, 14) END,
                    'user.id', user_id, 'llm.model_name', model, 'tool.name', tool_name,
                    'tool.parameters', CASE WHEN kind = 'TOOL' THEN input_value END,
                    'input.value', input_value, 'output.value', output_value,
                    'llm.token_count.prompt', prompt_tokens,
                    'llm.token_count.completion', completion_tokens,
                    'llm.token_count.total', prompt_tokens + completion_tokens,
                    'llm.token_count.prompt_details.cache_read', cache_read_tokens,
                    'llm.token_count.prompt_details.cache_write', cache_write_tokens,
                    'llm.cost.prompt', cost_prompt_usd, 'llm.cost.completion',
                    cost_completion_usd, 'llm.cost.total', cost_usd,
                    'exception.type', error_type,
                    'exception.message', CASE WHEN status = 'ERROR' THEN status_message END
                ), coalesce(attributes, '{}'))) AS attributes
            FROM spans""",
        ),
    ),
    Migration(
        4,
        "the error of an approval policy that failed for the call",
        ("ALTER TABLE approvals ADD COLUMN policy_error VARCHAR",),
    ),
]


LATEST_VERSION = MIGRATIONS[-1].version


def migrate(con: duckdb.DuckDBPyConnection, *, name: str) -> int:
    """Bring the database of ``con`` up to ``LATEST_VERSION``; return the version found.

    ``name`` names the database in error messages. Raises ``StoreError`` if the database
    was written by a newer agno-nb (its version is above ``LATEST_VERSION``) or if a
    migration fails (that migration is rolled back).
    """
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version "
        "(version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"
    )
    row = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    found = int(row[0]) if row else 0
    if found > LATEST_VERSION:
        raise StoreError(
            f"{name} has schema version {found}, but this agno-nb knows versions up to "
            f"{LATEST_VERSION}: it was written by a newer agno-nb; upgrade agno-nb to use it"
        )
    for migration in MIGRATIONS:
        if migration.version <= found:
            continue
        con.begin()
        try:
            for statement in migration.statements:
                con.execute(statement)
            con.execute("INSERT INTO schema_version VALUES (?, now())", [migration.version])
            con.commit()
        except Exception as exc:
            con.rollback()
            raise StoreError(
                f"migration {migration.version} ({migration.description}) of {name} failed: {exc}"
            ) from exc
    return found
