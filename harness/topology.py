"""The stack's topology: components, their port offsets, and the Toxiproxy proxies between them.

This module is the single source that the local stack, ``docker-compose.yml`` (checked by a test)
and the chaos layer agree on. Every network link of the system under test goes through one of the
proxies in :data:`PROXIES`; nothing here starts or talks to anything.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Port offsets from the stack's base port, one per listening thing. Proxies listen too.
PORT_OFFSETS: dict[str, int] = {
    "postgres": 0,
    "redis": 1,
    "toxiproxy": 2,
    "provider": 3,
    "target": 4,
    "locust_web": 5,
    "locust_master": 6,
    # proxy listen ports
    "target_api": 10,
    "seats_pg": 11,
    "payments_pg": 12,
    "redis_proxy": 13,
    "payments_api": 14,
}

#: How many consecutive ports a stack reserves from its base port.
PORT_BLOCK = 20

#: The databases of the single Postgres cluster.
DATABASES = ("seats", "payments")


@dataclass(frozen=True, slots=True)
class ProxySpec:
    """One Toxiproxy proxy: its contract name, the port key it listens on, and its upstream."""

    name: str
    listen_key: str
    upstream_key: str
    links: str


#: The contract's proxies (docs/contract.md section 3), in a stable order.
PROXIES: tuple[ProxySpec, ...] = (
    ProxySpec("target_api", "target_api", "target", "load -> target service"),
    ProxySpec("seats_pg", "seats_pg", "postgres", "service/coordinator -> seats database"),
    ProxySpec("payments_pg", "payments_pg", "postgres", "service/provider -> payments database"),
    ProxySpec("redis", "redis_proxy", "redis", "service -> Redis"),
    ProxySpec("payments_api", "payments_api", "provider", "service -> payment provider"),
)

PROXY_NAMES: tuple[str, ...] = tuple(p.name for p in PROXIES)


def ports_for(base: int) -> dict[str, int]:
    """Every port of a stack whose block starts at ``base``."""
    return {key: base + offset for key, offset in PORT_OFFSETS.items()}
