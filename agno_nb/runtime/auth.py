"""Who is calling: API keys and JWTs mapped to principals (a user id and roles).

Identity comes from the credential only (``Authorization: Bearer <API key or JWT>`` or
``X-API-Key: <key>``), never from a request body. API keys are kept as SHA-256 digests;
no key, secret or token is ever logged or echoed in an error. Sources, in
``AuthConfig.from_env`` order:

* ``AGNO_NB_AUTH_FILE``: a TOML, YAML or JSON file (format in ``docs/service.md``);
* ``AGNO_NB_API_KEYS='key1=ana:approver,admin;key2=bob'`` (``key=user[:role,role]``);
* ``AGNO_NB_JWT_SECRET`` (HS256) or ``AGNO_NB_JWT_PUBLIC_KEY`` (RS256, a PEM or a path),
  with ``AGNO_NB_JWT_ROLES_CLAIM`` (default ``roles``), ``AGNO_NB_JWT_USER_CLAIM``
  (``sub``), ``AGNO_NB_JWT_AUDIENCE``, ``AGNO_NB_JWT_ISSUER``.

This module does not import FastAPI; ``agno_nb.runtime.app`` turns ``AuthFailure`` into
HTTP 401.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agno_nb.approvals import ApprovalRequest, Principal, local_principal
from agno_nb.exceptions import ConfigError

__all__ = ["APIKey", "AuthConfig", "AuthFailure", "Caller", "JWTConfig", "is_loopback"]


class AuthFailure(Exception):
    """The request carries no valid credential (HTTP 401); the message names no secret."""


def _never_in_spans(secret: str) -> None:
    """Let the span scrubber know a credential, should a prompt or a tool ever carry it."""
    try:
        from agno_nb._scrub import remember_secret
    except ImportError:  # pragma: no cover - a build without tracing
        return
    remember_secret(secret)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class APIKey:
    """An API key, kept as its SHA-256 digest, and the principal it stands for."""

    sha256: str = field(repr=False)
    principal: Principal

    @classmethod
    def from_key(cls, key: str, principal: Principal) -> APIKey:
        _never_in_spans(key)
        return cls(_digest(key), principal)


@dataclass(frozen=True, slots=True)
class JWTConfig:
    """How to verify JWTs: HS256 with a shared secret or RS256 with a public key."""

    algorithm: str
    key: str = field(repr=False)
    user_claim: str = "sub"
    roles_claim: str = "roles"
    audience: str | None = None
    issuer: str | None = None
    leeway: float = 30.0

    def __post_init__(self) -> None:
        if self.algorithm == "HS256":
            _never_in_spans(self.key)
        if self.algorithm not in ("HS256", "RS256"):
            raise ConfigError(f"JWT algorithm must be HS256 or RS256, not {self.algorithm!r}")
        if not self.key:
            raise ConfigError(f"JWT {self.algorithm} needs a key (secret or public key)")

    def verify(self, token: str) -> Principal:
        try:
            import jwt
        except ImportError:  # pragma: no cover - an install without PyJWT
            raise ConfigError("JWT auth needs PyJWT: pip install 'PyJWT[crypto]'") from None
        try:
            claims = jwt.decode(
                token, self.key, algorithms=[self.algorithm], audience=self.audience,
                issuer=self.issuer, leeway=self.leeway,
                options={"require": ["exp"], "verify_aud": self.audience is not None},
            )  # fmt: skip
        except jwt.PyJWTError as exc:
            raise AuthFailure(f"invalid token: {exc}") from None
        user = _claim(claims, self.user_claim)
        if not isinstance(user, str) or not user:
            raise AuthFailure(f"invalid token: no {self.user_claim!r} claim naming the user")
        roles = _claim(claims, self.roles_claim) or []
        if isinstance(roles, str):
            roles = roles.replace(",", " ").split()
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise AuthFailure(f"invalid token: {self.roles_claim!r} must be a list of role names")
        return Principal(user, roles)


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    """A claim by dotted path (``realm_access.roles``)."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated caller of one request."""

    principal: Principal
    is_admin: bool
    method: str  # "api_key" | "jwt" | "none"
    isolation: bool = True
    approver_roles: frozenset[str] = frozenset()

    @property
    def user_id(self) -> str:
        return self.principal.user_id

    def sees_all(self) -> bool:
        return self.is_admin or not self.isolation

    def owns(self, user_id: str) -> bool:
        """May this caller read and continue what ``user_id`` owns?"""
        return self.sees_all() or user_id == self.principal.user_id

    def sees_approval(self, approval: ApprovalRequest) -> bool:
        """Requesters see their approvals; approvers and holders of the required role see
        every approval they might decide (``decide`` still checks the role)."""
        roles = self.principal.roles
        return (
            self.owns(approval.requested_by)
            or approval.required_role in roles
            or bool(roles & self.approver_roles)
        )


@dataclass(frozen=True)
class AuthConfig:
    """The credentials a service accepts, and its isolation policy."""

    api_keys: tuple[APIKey, ...] = ()
    jwt: JWTConfig | None = None
    admin_role: str = "admin"
    approver_roles: frozenset[str] = frozenset({"approver"})
    isolation: bool = True
    _by_digest: dict[str, Principal] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_digest", {k.sha256: k.principal for k in self.api_keys})

    @property
    def enabled(self) -> bool:
        return bool(self.api_keys) or self.jwt is not None

    # -- building ------------------------------------------------------------------------

    @classmethod
    def from_keys(cls, keys: Mapping[str, Principal | str], **options: Any) -> AuthConfig:
        """From ``{key: Principal(...)}`` or ``{key: "ana:approver,admin"}``."""
        entries = []
        for key, who in keys.items():
            entries.append(APIKey.from_key(key, who if isinstance(who, Principal) else _who(who)))
        return cls(api_keys=tuple(entries), **options)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AuthConfig:
        """The auth file named by ``AGNO_NB_AUTH_FILE``, plus the ``AGNO_NB_API_KEYS`` and
        ``AGNO_NB_JWT_*`` variables. Nothing set: auth is off (``enabled`` is False)."""
        env = os.environ if environ is None else environ
        path = env.get("AGNO_NB_AUTH_FILE")
        base = cls.from_file(path, env) if path else cls()
        keys = list(base.api_keys) + _parse_key_list(env.get("AGNO_NB_API_KEYS", ""))
        jwt = base.jwt or _jwt_from_env(env)
        return cls(
            api_keys=tuple(keys), jwt=jwt, admin_role=base.admin_role,
            approver_roles=base.approver_roles, isolation=base.isolation,
        )  # fmt: skip

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], environ: Mapping[str, str] | None = None
    ) -> AuthConfig:
        """Read a TOML, YAML or JSON auth file (keys by value, ``key_env`` or ``key_sha256``)."""
        env = os.environ if environ is None else environ
        data = _load_mapping(Path(path))
        keys = [_file_key(entry, i, env) for i, entry in enumerate(data.get("api_keys") or [])]
        jwt_data = data.get("jwt")
        jwt = _file_jwt(jwt_data, env, Path(path).parent) if jwt_data else None
        return cls(
            api_keys=tuple(keys), jwt=jwt, admin_role=str(data.get("admin_role", "admin")),
            approver_roles=frozenset(data.get("approver_roles", ["approver"])),
            isolation=bool(data.get("isolation", True)),
        )  # fmt: skip

    # -- checking ------------------------------------------------------------------------

    def authenticate(self, authorization: str | None, api_key: str | None) -> Caller:
        """The caller for these header values; raises ``AuthFailure`` (no secret in it)."""
        if not self.enabled:
            return self._caller(local_principal(), "none", admin=True)
        token = api_key
        if token is None and authorization:
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise AuthFailure("the Authorization header must be 'Bearer <API key or JWT>'")
            token = value.strip()
        if not token:
            raise AuthFailure(
                "missing credentials: send 'Authorization: Bearer <API key or JWT>' or "
                "'X-API-Key: <key>'"
            )
        principal = self._by_digest.get(_digest(token))
        if principal is not None:
            return self._caller(principal, "api_key")
        if self.jwt is not None and token.count(".") == 2:
            return self._caller(self.jwt.verify(token), "jwt")
        what = "unknown API key or token" if self.jwt else "unknown API key"
        raise AuthFailure(f"invalid credentials: {what}")

    def _caller(self, principal: Principal, method: str, *, admin: bool = False) -> Caller:
        return Caller(
            principal, admin or principal.has_role(self.admin_role), method,
            isolation=self.isolation, approver_roles=self.approver_roles,
        )  # fmt: skip


def _who(text: str) -> Principal:
    user, _, roles = text.partition(":")
    if not user.strip():
        raise ConfigError("an API key entry needs a user id: 'key=user[:role,role]'")
    return Principal(user.strip(), [r.strip() for r in roles.split(",") if r.strip()])


def _parse_key_list(text: str) -> list[APIKey]:
    """``key1=ana:approver,admin;key2=bob``; errors name the entry, never the key."""
    keys = []
    for i, entry in enumerate(e.strip() for e in text.replace("\n", ";").split(";")):
        if not entry:
            continue
        key, sep, who = entry.rpartition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"AGNO_NB_API_KEYS entry {i + 1} is not 'key=user[:role,role]' (entries are "
                "separated by ';')"
            )
        try:
            keys.append(APIKey.from_key(key.strip(), _who(who)))
        except ConfigError as exc:
            raise ConfigError(f"AGNO_NB_API_KEYS entry {i + 1}: {exc}") from None
    return keys


def _jwt_from_env(env: Mapping[str, str]) -> JWTConfig | None:
    secret, public = env.get("AGNO_NB_JWT_SECRET"), env.get("AGNO_NB_JWT_PUBLIC_KEY")
    if not secret and not public:
        return None
    if secret and public:
        raise ConfigError(
            "set AGNO_NB_JWT_SECRET (HS256) or AGNO_NB_JWT_PUBLIC_KEY (RS256), not both"
        )
    key = secret or _pem(str(public), Path.cwd())
    return JWTConfig(
        env.get("AGNO_NB_JWT_ALGORITHM") or ("HS256" if secret else "RS256"), key,
        user_claim=env.get("AGNO_NB_JWT_USER_CLAIM") or "sub",
        roles_claim=env.get("AGNO_NB_JWT_ROLES_CLAIM") or "roles",
        audience=env.get("AGNO_NB_JWT_AUDIENCE") or None,
        issuer=env.get("AGNO_NB_JWT_ISSUER") or None,
    )  # fmt: skip


def _pem(value: str, base: Path) -> str:
    """A PEM given inline, or the content of the file it names."""
    if "-----BEGIN" in value:
        return value
    path = Path(value) if Path(value).is_absolute() else base / value
    try:
        return path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read the JWT public key file {path}: {exc.strerror}") from None


def _load_mapping(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read the auth file {path}: {exc.strerror}") from None
    try:
        if path.suffix == ".toml":
            import tomllib

            data: Any = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        elif path.suffix == ".json":
            data = json.loads(text)
        else:
            raise ConfigError(f"auth file {path}: use a .toml, .yaml, .yml or .json file")
    except (ValueError, ImportError) as exc:  # tomllib, yaml and json errors are ValueErrors
        raise ConfigError(f"auth file {path} is not valid: {type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"auth file {path}: the top level must be a mapping")
    return data


def _file_key(entry: Any, index: int, env: Mapping[str, str]) -> APIKey:
    where = f"api_keys[{index}]"
    if not isinstance(entry, dict) or not entry.get("user"):
        raise ConfigError(f"auth file {where}: needs 'user' and one of key, key_env, key_sha256")
    principal = Principal(str(entry["user"]), [str(r) for r in entry.get("roles") or []])
    if entry.get("key_sha256"):
        return APIKey(str(entry["key_sha256"]).lower(), principal)
    if entry.get("key_env"):
        key = env.get(str(entry["key_env"]))
        if not key:
            raise ConfigError(f"auth file {where}: the variable {entry['key_env']} is not set")
        return APIKey.from_key(key, principal)
    if entry.get("key"):
        return APIKey.from_key(str(entry["key"]), principal)
    raise ConfigError(f"auth file {where}: needs one of key, key_env, key_sha256")


def _file_jwt(data: Any, env: Mapping[str, str], base: Path) -> JWTConfig:
    if not isinstance(data, dict):
        raise ConfigError("auth file [jwt]: must be a mapping")
    if data.get("secret_env"):
        key = env.get(str(data["secret_env"]), "")
        if not key:
            raise ConfigError(f"auth file [jwt]: the variable {data['secret_env']} is not set")
    elif data.get("public_key_file") or data.get("public_key"):
        key = _pem(str(data.get("public_key") or data["public_key_file"]), base)
    else:
        raise ConfigError("auth file [jwt]: needs secret_env (HS256) or public_key_file (RS256)")
    default = "HS256" if data.get("secret_env") else "RS256"
    return JWTConfig(
        str(data.get("algorithm", default)), key,
        user_claim=str(data.get("user_claim", "sub")),
        roles_claim=str(data.get("roles_claim", "roles")),
        audience=data.get("audience"), issuer=data.get("issuer"),
        leeway=float(data.get("leeway", 30.0)),
    )  # fmt: skip


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` only exposes the service to this machine."""
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
