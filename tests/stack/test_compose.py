"""docker-compose.yml has the harness's topology (parsed, not run: no Docker engine here)."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from harness.paths import REPO_ROOT
from harness.topology import PROXIES, PROXY_NAMES, ports_for

BASE = 20000
PORTS = ports_for(BASE)
#: which compose service runs each upstream port key
SERVICE_OF = {"postgres": "postgres", "redis": "redis", "provider": "provider", "target": "target"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    return data


@pytest.fixture(scope="module")
def toxiproxy_config() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((REPO_ROOT / "docker" / "toxiproxy.json").read_text())
    return data


def test_services_are_the_stack_plus_locust(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {
        "postgres", "redis", "toxiproxy", "provider", "target", "locust-master", "locust-worker",
    }
    assert compose["services"]["toxiproxy"]["image"] == "ghcr.io/shopify/toxiproxy:2.12.0"


def test_postgres_has_2pc_and_both_databases(compose: dict[str, Any]) -> None:
    command = " ".join(compose["services"]["postgres"]["command"])
    match = re.search(r"max_prepared_transactions=(\d+)", command)
    assert match and int(match.group(1)) > 0
    assert f"port={PORTS['postgres']}" in command
    init = (REPO_ROOT / "docker" / "postgres-init.sql").read_text()
    assert "CREATE DATABASE seats" in init and "CREATE DATABASE payments" in init


def test_proxies_match_the_harness(toxiproxy_config: list[dict[str, Any]]) -> None:
    assert [p["name"] for p in toxiproxy_config] == list(PROXY_NAMES)
    for spec, proxy in zip(PROXIES, toxiproxy_config, strict=True):
        assert proxy["listen"] == f"0.0.0.0:{PORTS[spec.listen_key]}"
        upstream = SERVICE_OF[spec.upstream_key]
        assert proxy["upstream"] == f"{upstream}:{PORTS[spec.upstream_key]}"


def test_published_ports_are_loopback_and_match(compose: dict[str, Any]) -> None:
    published = {}
    for name, service in compose["services"].items():
        for mapping in service.get("ports", []):
            host_ip, host_port, container_port = mapping.split(":")
            assert host_ip == "127.0.0.1", f"{name} publishes {mapping} beyond loopback"
            assert host_port == container_port
            published[int(host_port)] = name
    assert published[PORTS["postgres"]] == "postgres"
    assert published[PORTS["redis"]] == "redis"
    assert published[PORTS["toxiproxy"]] == "toxiproxy"
    assert published[PORTS["locust_web"]] == "locust-master"
    for spec in PROXIES:
        assert published[PORTS[spec.listen_key]] == "toxiproxy"


def test_apps_reach_dependencies_only_through_toxiproxy(compose: dict[str, Any]) -> None:
    proxy_port = {spec.name: PORTS[spec.listen_key] for spec in PROXIES}
    expected = {
        "SEATS_DSN": proxy_port["seats_pg"],
        "PAYMENTS_DSN": proxy_port["payments_pg"],
        "REDIS_URL": proxy_port["redis"],
        "PROVIDER_URL": proxy_port["payments_api"],
    }
    for name in ("target", "provider"):
        env = compose["services"][name]["environment"]
        for key, port in expected.items():
            if key in env:
                url = urlsplit(env[key])
                assert (url.hostname, url.port) == ("toxiproxy", port), f"{name} {key}"
    target_env = compose["services"]["target"]["environment"]
    assert int(target_env["TARGET_PORT"]) == PORTS["target"]
    assert int(compose["services"]["provider"]["environment"]["PROVIDER_PORT"]) == PORTS[
        "provider"]
    master = " ".join(compose["services"]["locust-master"]["command"])
    assert f"http://toxiproxy:{proxy_port['target_api']}" in master
