"""A bounded pass of a third-party OpenAPI fuzzer (schemathesis) against the real service.

Schemathesis reads ``/openapi.json`` and sends valid and invalid requests to every operation
(examples, coverage of each constraint's edges, random fuzzing, and stateful sequences that
follow created orders), with a fresh customer's bearer token and a fresh Idempotency-Key per
request (``fuzz_hooks.py``, ``schemathesis.toml``). The pass fails on any 5xx, any response
the document does not describe (status, headers, content type, body), a request the
document allows that the service refuses for its shape, a request it forbids that the service
accepts, a method it does not list answered without 405 and ``Allow``, and any error answer
that is not a problem with a catalogued ``code``.

The same command, with more examples, is the large pass of ``docs/measurements.md``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.paths import REPO_ROOT
from target_service.openapi import document
from tests.service.client import Api

pytestmark = pytest.mark.asyncio(loop_scope="session")

CONFIG = Path(__file__).with_name("schemathesis.toml")
HOOKS = "tests.service.fuzz_hooks"
#: test cases per operation and phase: about 1,000 requests in all
MAX_EXAMPLES = 15
#: a fixed seed makes a failure reproducible; FUZZ_SEED explores others
SEED = int(os.environ.get("FUZZ_SEED", "17"))


def fuzz_command(target_url: str, report: Path, *, max_examples: int, seed: int) -> list[str]:
    """The schemathesis command line of one pass (run from the repo root)."""
    return [str(Path(sys.executable).with_name("schemathesis")), "--config-file", str(CONFIG),
            "run", f"{target_url}/openapi.json", "--no-color", "--workers", "1",
            "--max-examples", str(max_examples), "--seed", str(seed),
            "--report", "json", "--report-json-path", str(report)]


async def test_fuzzing_the_openapi_document_finds_no_error(api: Api, stack: Any,
                                                           tmp_path: Path) -> None:
    report_path, calls_path = tmp_path / "report.json", tmp_path / "calls.log"
    env = {**os.environ, "SCHEMATHESIS_HOOKS": HOOKS, "FUZZ_CALL_LOG": str(calls_path)}
    proc = await asyncio.create_subprocess_exec(
        *fuzz_command(stack.target_url, report_path, max_examples=MAX_EXAMPLES, seed=SEED),
        cwd=REPO_ROOT, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    output = out.decode(errors="replace")
    assert proc.returncode == 0, output[-6000:]
    report = json.loads(report_path.read_text())
    assert report["failures"] == [] and report["errors"] == [], output[-6000:]
    assert report["complete"], report["stop_reason"]
    assert report["operations"]["tested"] == report["operations"]["total"] == len(
        _operations()), report["operations"]
    assert all(p["status"] == "success" for p in report["phases"].values()), report["phases"]
    calls = [line.split(" ", 2) for line in calls_path.read_text().splitlines()]
    print(f"schemathesis: {report['test_cases']['generated']} test cases, {len(calls)} requests")
    server_errors = [c for c in calls if c[0].startswith("5")]
    assert server_errors == [], server_errors[:10]
    # not vacuous: the pass reached every operation, created real orders and acted on them
    assert len(calls) >= 500, len(calls)
    reached = {(method, path) for _, method, path in calls}
    assert reached >= _operations(), sorted(_operations() - reached)
    statuses = {(status, method, path) for status, method, path in calls}
    assert ("201", "POST", "/api/orders") in statuses
    confirmed = {s for s, _, path in statuses if path == "/api/orders/{order_id}:confirm"}
    assert confirmed & {"202", "402", "409"}, confirmed  # a real order's answer, not a 404
    assert ("200", "POST", "/api/orders/{order_id}:cancel") in statuses


def _operations() -> set[tuple[str, str]]:
    """The operations but ``GET /openapi.json`` (schemathesis reads it, never fuzzes it)."""
    return {(method.upper(), path) for path, item in document()["paths"].items()
            for method in item} - {("GET", "/openapi.json")}
