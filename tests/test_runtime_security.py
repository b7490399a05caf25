"""Identity, isolation and roles in the service; auth sources; fuzzing (and hostile
bodies) for 5xx."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from agno_nb.approvals import Principal
from agno_nb.exceptions import ConfigError
from agno_nb.runtime import AuthConfig, JWTConfig, create_app
from agno_nb.runtime.app import DEFAULT_MAX_BODY_BYTES, check_exposure
from tests.approval_agent import build
from tests.service_support import ANA, BOB, CARL, KEYS, ROOT_KEY, as_user, client_for, sse

SECRET = "jwt-secret-for-tests-0123456789abcdef"


def token(
    user: str | None, roles: Any = (), *, key: str = SECRET, alg: str = "HS256", **claims: Any
) -> str:
    body = {"exp": int(time.time()) + 300, "roles": list(roles), **claims}
    if user is not None:
        body["sub"] = user
    return jwt.encode(body, key, algorithm=alg)


@pytest.fixture
def auth() -> AuthConfig:
    keys = AuthConfig.from_keys(KEYS)
    return AuthConfig(api_keys=keys.api_keys, jwt=JWTConfig("HS256", SECRET))


@pytest.fixture
async def api(tmp_path: Path, auth: AuthConfig) -> AsyncIterator[httpx2.AsyncClient]:
    app = create_app([build(str(tmp_path / "service.duckdb"))], auth=auth)
    async with client_for(app) as client:
        yield client


async def bobs_paused_run(api: httpx2.AsyncClient, prompt: str = "refund 42") -> dict[str, Any]:
    reply = await api.post(
        "/agents/support/runs", json={"message": prompt, "stream": False}, headers=as_user(BOB)
    )
    run: dict[str, Any] = reply.json()
    assert run["status"] == "PAUSED", run
    return run


async def test_a_user_cannot_read_or_continue_another_users_run(api: httpx2.AsyncClient) -> None:
    run = await bobs_paused_run(api)
    session, run_id = run["session_id"], run["run_id"]
    approval_id = run["approvals"][0]["approval_id"]
    carl = as_user(CARL)
    for path in (f"/sessions/{session}", f"/sessions/{session}/runs", f"/approvals/{approval_id}"):
        reply = await api.get(path, headers=carl)
        assert reply.status_code == 404, path
    assert (await api.get("/sessions", headers=carl)).json()["data"] == []
    assert (await api.get("/approvals", headers=carl)).json()["data"] == []
    assert (await api.get("/traces", headers=carl)).json()["data"] == []
    resolve = await api.post(
        f"/approvals/{approval_id}/resolve", json={"status": "approved"}, headers=carl
    )
    assert resolve.status_code == 404
    await api.post(
        f"/approvals/{approval_id}/resolve", json={"status": "approved"}, headers=as_user(ANA)
    )
    steal = await api.post(f"/agents/support/runs/{run_id}/continue", headers=carl)
    assert steal.status_code == 404 and "no run" in steal.text
    traces = (await api.get("/traces", headers=as_user(BOB))).json()["data"]
    (trace,) = [t for t in traces if t["run_id"] == run_id]
    assert (await api.get(f"/traces/{trace['trace_id']}", headers=carl)).status_code == 404
    root = as_user(ROOT_KEY)  # an admin sees everyone's
    assert (await api.get(f"/sessions/{session}", headers=root)).status_code == 200
    assert [s["session_id"] for s in (await api.get("/sessions", headers=root)).json()["data"]] == [
        session
    ]
    done = await api.post(f"/agents/support/runs/{run_id}/continue", headers=as_user(BOB))
    assert sse(done.text)[-1][0] == "RunCompleted"


async def test_the_user_comes_from_the_credential_not_the_body(api: httpx2.AsyncClient) -> None:
    posing = await api.post(
        "/agents/support/runs", json={"message": "hi", "user_id": "ana"}, headers=as_user(BOB)
    )
    assert posing.status_code == 403 and "only admins act for other users" in posing.text
    same = await api.post(
        "/agents/support/runs", json={"message": "hi", "user_id": "bob", "stream": False},
        headers=as_user(BOB),
    )  # fmt: skip
    assert same.json()["user_id"] == "bob"
    admin = await api.post(
        "/agents/support/runs", json={"message": "hi", "user_id": "dora", "stream": False},
        headers=as_user(ROOT_KEY),
    )  # fmt: skip
    assert admin.json()["user_id"] == "dora"
    foreign = await api.post(
        "/agents/support/runs", json={"message": "hi", "session_id": same.json()["session_id"]},
        headers=as_user(CARL),
    )  # fmt: skip
    assert foreign.status_code == 403 and "belongs to another user" in foreign.text


async def test_an_approval_by_the_wrong_role_is_refused(api: httpx2.AsyncClient) -> None:
    run = await bobs_paused_run(api, "refund and delete customer 7")
    by_tool = {a["tool_name"]: a["approval_id"] for a in run["approvals"]}
    admin_only = f"/approvals/{by_tool['delete_customer']}/resolve"
    for who in (ANA, BOB):  # an approver, and the requester: neither holds 'admin'
        reply = await api.post(admin_only, json={"status": "approved"}, headers=as_user(who))
        assert reply.status_code == 403, reply.text
        assert "needs the 'admin' role" in reply.json()["detail"]
    ok = await api.post(admin_only, json={"status": "approved"}, headers=as_user(ROOT_KEY))
    assert ok.status_code == 200 and ok.json()["decided_by"] == "root"
    jwt_admin = {"Authorization": f"Bearer {token('zoe', ['approver'])}"}
    required = f"/approvals/{by_tool['refund']}/resolve"
    reply = await api.post(required, json={"status": "rejected", "reason": "no"}, headers=jwt_admin)
    assert (reply.status_code, reply.json()["decided_by"]) == (200, "zoe")


async def test_jwts_carry_the_user_and_roles(api: httpx2.AsyncClient, tmp_path: Path) -> None:
    good = await api.get(
        "/agents", headers={"Authorization": f"Bearer {token('ana', ['approver'])}"}
    )
    assert good.status_code == 200
    bad_tokens = {
        "expired": token("ana", exp=int(time.time()) - 3600),
        "wrong key": token("ana", key="another-secret-0123456789abcdefgh"),
        "no user": token(None),
        "no exp": jwt.encode({"sub": "ana"}, SECRET, algorithm="HS256"),
    }
    for label, bad in bad_tokens.items():
        reply = await api.get("/agents", headers={"Authorization": f"Bearer {bad}"})
        assert reply.status_code == 401, label
        assert bad not in reply.text and reply.headers["www-authenticate"] == "Bearer"
    for header in ({}, {"Authorization": "Basic abc"}, {"X-API-Key": "nope"}):
        assert (await api.get("/agents", headers=header)).status_code == 401


def test_rs256_with_a_public_key_and_a_nested_roles_claim(tmp_path: Path) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (tmp_path / "jwt.pub").write_bytes(pem)
    config = AuthConfig.from_env(
        {"AGNO_NB_JWT_PUBLIC_KEY": str(tmp_path / "jwt.pub"),
         "AGNO_NB_JWT_ROLES_CLAIM": "realm_access.roles", "AGNO_NB_JWT_AUDIENCE": "agents"}
    )  # fmt: skip
    signed = jwt.encode(
        {"sub": "ana", "exp": int(time.time()) + 60, "aud": "agents",
         "realm_access": {"roles": ["approver", "admin"]}}, private, algorithm="RS256",
    )  # fmt: skip
    caller = config.authenticate(f"Bearer {signed}", None)
    assert caller.principal == Principal("ana", {"approver", "admin"}) and caller.is_admin
    assert caller.method == "jwt"


def test_api_keys_from_the_environment_and_from_files(tmp_path: Path) -> None:
    env = AuthConfig.from_env({"AGNO_NB_API_KEYS": "k1=ana:approver,admin; k2==bob ;"})
    assert env.authenticate("Bearer k1", None).principal == Principal("ana", {"approver", "admin"})
    assert env.authenticate(None, "k2=").principal == Principal("bob")  # keys may hold '='
    import hashlib

    digest = hashlib.sha256(b"hashed-key").hexdigest()
    files = {
        "auth.toml": f'isolation = false\n[[api_keys]]\nkey_env = "ANA_KEY"\nuser = "ana"\n'
        f'roles = ["approver"]\n[[api_keys]]\nkey_sha256 = "{digest}"\nuser = "bob"\n',
        "auth.yaml": "api_keys:\n  - {key_env: ANA_KEY, user: ana, roles: [approver]}\n"
        f"  - {{key_sha256: {digest}, user: bob}}\n",
        "auth.json": json.dumps({"api_keys": [
            {"key_env": "ANA_KEY", "user": "ana", "roles": ["approver"]},
            {"key_sha256": digest, "user": "bob"}]}),
    }  # fmt: skip
    for name, text in files.items():
        (tmp_path / name).write_text(text)
        config = AuthConfig.from_env(
            {"AGNO_NB_AUTH_FILE": str(tmp_path / name), "ANA_KEY": "ana-key-123"}
        )
        assert config.authenticate("Bearer ana-key-123", None).principal.roles == {"approver"}
        assert config.authenticate("Bearer hashed-key", None).user_id == "bob"
        assert config.isolation is (name != "auth.toml")
    assert "ana-key-123" not in repr(config) and digest not in repr(config)


def test_auth_errors_name_the_entry_never_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="entry 2") as bad:
        AuthConfig.from_env({"AGNO_NB_API_KEYS": "good-key=ana;secret-key-xyz=:admin"})
    assert "secret-key-xyz" not in str(bad.value)
    (tmp_path / "auth.toml").write_text('[[api_keys]]\nkey_env = "MISSING"\nuser = "ana"\n')
    with pytest.raises(ConfigError, match="MISSING is not set"):
        AuthConfig.from_file(tmp_path / "auth.toml", {})
    with pytest.raises(ConfigError, match="not both"):
        AuthConfig.from_env({"AGNO_NB_JWT_SECRET": "x" * 32, "AGNO_NB_JWT_PUBLIC_KEY": "y"})


async def test_without_auth_only_local_connections_are_answered(tmp_path: Path) -> None:
    app = create_app([build(str(tmp_path / "open.duckdb"))], auth=False)
    async with client_for(app) as local:
        assert (await local.get("/agents")).status_code == 200
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://10.1.2.3") as remote:
            reply = await remote.get("/agents")
            assert reply.status_code == 403 and "--insecure" in reply.text
    with pytest.raises(ConfigError, match=r"refusing to serve on 0\.0\.0\.0 without auth"):
        check_exposure("0.0.0.0", AuthConfig(), insecure=False)
    check_exposure("0.0.0.0", AuthConfig(), insecure=True)
    check_exposure("::1", AuthConfig(), insecure=False)
    check_exposure("0.0.0.0", AuthConfig.from_keys({"k": "ana"}), insecure=False)


async def test_no_secret_reaches_the_logs_the_store_or_the_traces(
    tmp_path: Path, auth: AuthConfig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    jwt_token = token("zoe", ["approver"])
    db = tmp_path / "service.duckdb"
    app = create_app([build(str(db))], auth=auth)
    async with client_for(app) as api:
        run = await bobs_paused_run(api)
        await api.get("/agents", headers={"Authorization": "Bearer wrong-key-0123456789"})
        await api.get("/agents", headers={"Authorization": f"Bearer {jwt_token}x"})
        approval = run["approvals"][0]["approval_id"]
        headers = {"Authorization": f"Bearer {jwt_token}"}
        await api.post(
            f"/approvals/{approval}/resolve", json={"status": "approved"}, headers=headers
        )
        await api.post(f"/agents/support/runs/{run['run_id']}/continue", headers=as_user(BOB))
        traces = (await api.get("/traces", headers=as_user(ROOT_KEY))).text
    secrets = [*KEYS, jwt_token, SECRET, "wrong-key-0123456789"]
    stored = db.read_bytes()
    for secret in secrets:
        assert secret not in caplog.text
        assert secret.encode() not in stored
        assert secret not in traces


async def test_fuzzing_the_openapi_schema_gives_no_server_error(tmp_path: Path) -> None:
    """Every operation, 25 generated requests each (bodies, queries, headers), as an admin,
    aimed at the real agent and, every other time, at a real run, session, approval and
    trace; then, on every route with a body, the hostile bodies that generation does not
    reach (deep nesting, NaN, infinity, half a surrogate pair, too large, JSON nested in a
    form field): no answer is a 5xx, and every 4xx is valid JSON."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error

    app = create_app([build(str(tmp_path / "fuzz.duckdb"))], auth=KEYS)
    async with client_for(app) as api:
        run = await bobs_paused_run(api)
        trace = (await api.get("/traces", headers=as_user(BOB))).json()["data"][0]["trace_id"]
    real = {"agent_id": "support", "run_id": run["run_id"], "session_id": run["session_id"],
            "approval_id": run["approvals"][0]["approval_id"], "trace_id": trace}  # fmt: skip
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    statuses: dict[int, int] = {}
    started = time.monotonic()

    def send(case: Any) -> int:
        case.headers = {
            k: v for k, v in (case.headers or {}).items()
            if k.lower() not in ("authorization", "x-api-key")
        }  # fmt: skip
        for name in case.path_parameters or {}:
            if name == "agent_id" or len(statuses) % 2:
                case.path_parameters[name] = real[name]
        response = case.call_and_validate(
            headers=as_user(ROOT_KEY), checks=[not_a_server_error, an_error_is_json]
        )
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        return int(response.status_code)

    def call(case: Any) -> None:
        send(case)

    hostile = dict.fromkeys((400, 413, 422), 0)
    for result in schema.get_all_operations():
        operation = result.ok()
        fuzz = given(operation.as_strategy())(call)
        settings(max_examples=25, deadline=None, database=None,
                 suppress_health_check=list(HealthCheck))(fuzz)()  # fmt: skip
        if operation.method.upper() == "POST":
            ids = {name: real[name] for name in re.findall(r"\{(\w+)\}", operation.path)}
            for body, media_type in HOSTILE_BODIES:
                case = operation.Case(body=body, media_type=media_type, path_parameters=ids)
                code = send(case)
                assert code in hostile, (operation.label, body[:40], code)
                hostile[code] += 1
    assert sum(statuses.values()) > 200 and time.monotonic() - started < 60
    assert statuses.get(200, 0) > 50 and not any(code >= 500 for code in statuses)
    assert all(hostile.values()), hostile  # each refusal was met


def an_error_is_json(ctx: Any, response: Any, case: Any) -> None:
    """A schemathesis check: a 4xx says why in JSON that any parser reads (no NaN)."""
    if 400 <= response.status_code < 500:

        def refuse(constant: str) -> None:
            raise AssertionError(f"{constant} in a {response.status_code} answer")

        json.loads(response.content, parse_constant=refuse)


DEEP = b"[" * 100_000 + b"]" * 100_000
HOSTILE_BODIES: list[tuple[Any, str]] = [
    (DEEP, "application/json"),
    (b'{"message": ' + DEEP + b', "status": "approved"}', "application/json"),
    (b'{"message": NaN, "stream": NaN, "status": NaN, "args": {"a": NaN}}', "application/json"),
    (b'{"message": Infinity, "stream": -Infinity, "status": 1e999}', "application/json"),
    (b'{"message": "\\ud800", "stream": "\\udc00", "status": "\\ud800"}', "application/json"),
    (b'{"message": ' + b"9" * 5000 + b"}", "application/json"),
    (b'{"message": "' + b"x" * DEFAULT_MAX_BODY_BYTES + b'"}', "application/json"),
    ({"tools": "[" * 40_000 + "]" * 40_000}, "application/x-www-form-urlencoded"),
    ({"tools": '[{"tool_call_id": "x", "confirmed": NaN}]'}, "multipart/form-data"),
]
