"""The web UI's **Invariants** tab: the live result of every invariant during a load test.

Load it beside the buyer (``harness ui`` does): ``locust -f buyer.py,invariants_tab.py``. It adds
the tab through ``template_args["extended_tabs"]`` / ``["extended_tables"]`` and an
``after_request`` hook on ``/stats/requests`` that adds ``extended_stats`` (the UI polls that
endpoint every couple of seconds). The checks run in a separate ``harness check --json``
process, at most one at a time and at most every ``HARNESS_UI_CHECK_INTERVAL`` seconds (default
5), so the UI never waits for them and gevent never shares a process with asyncio.
"""

from __future__ import annotations

import json
import os
from typing import Any

from flask import Response, request
from locust import events
from locust.env import Environment

from locustfiles.history_hook import history_path, workload_of
from locustfiles.live_checks import LiveInvariants

TAB_KEY = "invariants"
TABLE = [
    {"key": "name", "title": "Invariant"},
    {"key": "status", "title": "Status (live, before recovery)"},
    {"key": "violations", "title": "Violations"},
    {"key": "example", "title": "First example / error"},
    {"key": "checked", "title": "Checked at"},
]


@events.init.add_listener  # type: ignore[untyped-decorator]
def _add_invariants_tab(environment: Environment, **_: Any) -> None:
    web_ui = environment.web_ui
    if web_ui is None or web_ui.app is None:
        return
    live = LiveInvariants(
        state_dir=os.environ.get("HARNESS_STATE_DIR") or None,
        history_dir=history_path(workload_of(environment)).parent,
        min_interval_s=float(os.environ.get("HARNESS_UI_CHECK_INTERVAL", "5")),
    )
    web_ui.template_args["extended_tabs"] = [{"title": "Invariants", "key": TAB_KEY}]
    web_ui.template_args["extended_tables"] = [{"key": TAB_KEY, "structure": TABLE}]

    @web_ui.app.after_request
    def _extend_stats(response: Response) -> Response:
        if request.path != "/stats/requests" or not response.is_json:
            return response
        live.maybe_refresh()
        body = response.get_json() or {}
        body["extended_stats"] = [{"key": TAB_KEY, "data": live.rows()}]
        response.set_data(json.dumps(body))
        return response

