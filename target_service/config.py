"""Service configuration, read once from the environment.

Launch variables (set by the stack): ``TARGET_HOST`` (127.0.0.1), ``TARGET_PORT``,
``TARGET_INSTANCE``, ``SEATS_DSN``, ``PAYMENTS_DSN``, ``REDIS_URL``, ``PROVIDER_URL``,
``HARNESS_BUG``, ``HARNESS_FAILPOINTS``, ``HARNESS_ADMIN_TOKEN``.

Tuning variables (all optional; defaults in brackets):

* ``LOCK_LEASE_MS`` [2000] lease of a Redis seat lock; renewed every third of it while held.
* ``HOLD_TTL_S`` [120] how long an ``AUTHORIZED`` order holds its seats.
* ``SWEEP_INTERVAL_S`` [1.0] period of the hold-expiry / saga / 2PC-recovery sweepers.
* ``SAGA_STALE_S`` [15] a non-finished saga untouched this long is re-driven by the sweeper.
* ``TWOPC_GRACE_S`` [5] an in-doubt prepared transaction younger than this is left to its
  coordinator (recovery is safe earlier too: the decision log is first-writer-wins).
* ``PROVIDER_TIMEOUT_S`` [3.0] timeout of one call to the payment provider.
* ``DB_TIMEOUT_S`` [5.0] statement / connect timeout for Postgres; ``LOCK_TIMEOUT_MS`` [2000]
  Postgres ``lock_timeout`` (a seat row locked longer, e.g. by an in-doubt 2PC, is a conflict).
* ``REDIS_TIMEOUT_S`` [1.0] socket timeout for Redis.
* ``IDEMPOTENCY_TTL_S`` [86400] retention of idempotency records (published in the OpenAPI doc).
* ``IDEMPOTENCY_LOCK_TIMEOUT_S`` [20] an in-flight idempotency record older than this is
  considered abandoned and may be taken over by a retry.
* ``DB_POOL_MAX`` [10] connections per pool per process.
* ``MAX_BODY_BYTES`` [16384], ``MAX_JSON_DEPTH`` [8], ``MAX_SEATS_PER_ORDER`` [10].
* ``FAILPOINT_POLL_S`` [0.25] how often a process re-reads the shared failpoint table.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from target_service.bugs import parse_bug
from target_service.failpoints import parse_failpoints


class ConfigError(ValueError):
    """A launch variable is missing or malformed; the service refuses to start."""


def _num(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a number") from exc
    if value < 0:
        raise ConfigError(f"{name}={raw!r} must not be negative")
    return value


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a service process needs; immutable after start-up."""

    host: str = "127.0.0.1"
    port: int = 8080
    instance: str = "0"
    seats_dsn: str = ""
    payments_dsn: str = ""
    redis_url: str = ""
    provider_url: str = ""
    bug: str | None = None
    failpoints: frozenset[str] = field(default_factory=frozenset)
    admin_token: str = ""
    lock_lease_ms: int = 2000
    hold_ttl_s: float = 120.0
    sweep_interval_s: float = 1.0
    saga_stale_s: float = 15.0
    twopc_grace_s: float = 5.0
    provider_timeout_s: float = 3.0
    db_timeout_s: float = 5.0
    lock_timeout_ms: int = 2000
    redis_timeout_s: float = 1.0
    idempotency_ttl_s: float = 86400.0
    idempotency_lock_timeout_s: float = 20.0
    db_pool_max: int = 10
    max_body_bytes: int = 16384
    max_json_depth: int = 8
    max_seats_per_order: int = 10
    failpoint_poll_s: float = 0.25

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate the environment; raises :class:`ConfigError` on bad input."""
        env = os.environ if env is None else env
        missing = [n for n in ("SEATS_DSN", "PAYMENTS_DSN", "REDIS_URL", "PROVIDER_URL")
                   if not env.get(n)]
        if missing:
            raise ConfigError(f"missing environment variables: {', '.join(missing)}")
        try:
            bug = parse_bug(env.get("HARNESS_BUG", ""))
            failpoints = parse_failpoints(env.get("HARNESS_FAILPOINTS", ""))
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        port_raw = env.get("TARGET_PORT", "8080")
        if not port_raw.isdigit() or not 0 < int(port_raw) < 65536:
            raise ConfigError(f"TARGET_PORT={port_raw!r} is not a port")
        return cls(
            host=env.get("TARGET_HOST", "127.0.0.1") or "127.0.0.1",
            port=int(port_raw),
            instance=env.get("TARGET_INSTANCE", "0") or "0",
            seats_dsn=env["SEATS_DSN"],
            payments_dsn=env["PAYMENTS_DSN"],
            redis_url=env["REDIS_URL"],
            provider_url=env["PROVIDER_URL"].rstrip("/"),
            bug=bug,
            failpoints=failpoints,
            admin_token=env.get("HARNESS_ADMIN_TOKEN", ""),
            **tuning(env),
        )

    def has_bug(self, name: str) -> bool:
        """True when seeded bug ``name`` is switched on for this process."""
        return self.bug == name


def tuning(env: Mapping[str, str]) -> dict[str, Any]:
    """The tuning fields of :class:`Settings` that ``env`` sets (the defaults otherwise);
    raises :class:`ConfigError` on a malformed value. The one reading of the tuning variables:
    the service starts with it and the introspection door reports it."""
    d = Settings()
    return {
        "lock_lease_ms": int(_num(env, "LOCK_LEASE_MS", d.lock_lease_ms)),
        "hold_ttl_s": _num(env, "HOLD_TTL_S", d.hold_ttl_s),
        "sweep_interval_s": _num(env, "SWEEP_INTERVAL_S", d.sweep_interval_s),
        "saga_stale_s": _num(env, "SAGA_STALE_S", d.saga_stale_s),
        "twopc_grace_s": _num(env, "TWOPC_GRACE_S", d.twopc_grace_s),
        "provider_timeout_s": _num(env, "PROVIDER_TIMEOUT_S", d.provider_timeout_s),
        "db_timeout_s": _num(env, "DB_TIMEOUT_S", d.db_timeout_s),
        "lock_timeout_ms": int(_num(env, "LOCK_TIMEOUT_MS", d.lock_timeout_ms)),
        "redis_timeout_s": _num(env, "REDIS_TIMEOUT_S", d.redis_timeout_s),
        "idempotency_ttl_s": _num(env, "IDEMPOTENCY_TTL_S", d.idempotency_ttl_s),
        "idempotency_lock_timeout_s": _num(env, "IDEMPOTENCY_LOCK_TIMEOUT_S",
                                           d.idempotency_lock_timeout_s),
        "db_pool_max": max(2, int(_num(env, "DB_POOL_MAX", d.db_pool_max))),
        "max_body_bytes": int(_num(env, "MAX_BODY_BYTES", d.max_body_bytes)),
        "max_json_depth": int(_num(env, "MAX_JSON_DEPTH", d.max_json_depth)),
        "max_seats_per_order": int(_num(env, "MAX_SEATS_PER_ORDER", d.max_seats_per_order)),
        "failpoint_poll_s": _num(env, "FAILPOINT_POLL_S", d.failpoint_poll_s),
    }
