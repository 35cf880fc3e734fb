"""The web UI's **Invariants** tab: the live result of every invariant during a load test.

Load it beside the buyer (``harness ui`` does): ``locust -f buyer.py,invariants_tab.py``. It adds
the tab through ``template_args["extended_tabs"]`` / ``["extended_tables"]`` and an
``after_request`` hook on ``/stats/requests`` that adds ``extended_stats`` (the UI polls that
endpoint every couple of seconds). The checks run in a separate ``harness check --json``
process, at most one at a time and at most every ``HARNESS_UI_CHECK_INTERVAL`` seconds (default
5), so the UI never waits for them and gevent never shares a process with asyncio.

In a `harness ui` session (:mod:`locustfiles.ui_session`) the tab counts only what broke since
the session began (its baseline) and marks the invariants that only hold after recovery.
"""

from __future__ import annotations

import json
import os
from typing import Any

from flask import Response, request
from locust import events
from locust.env import Environment

from harness.ui.baseline import Baseline
from locustfiles.history_hook import history_path, workload_of
from locustfiles.live_checks import LiveInvariants
from locustfiles.ui_session import load_session

TAB_KEY = "invariants"
TABLE = [
    {"key": "name", "title": "Invariant"},
    {"key": "when", "title": "Holds"},
    {"key": "status", "title": "Status (live)"},
    {"key": "violations", "title": "New violations"},
    {"key": "before", "title": "Before the session"},
    {"key": "example", "title": "First new example / error"},
    {"key": "checked", "title": "Checked at"},
]

#: where the web app keeps its one live checker (the harness panel shows its first
#: violations): Locust loads this file by path (``-f``) while the panel imports it as
#: ``locustfiles.invariants_tab``, two module objects whose init listeners both ran, so the tab
#: showed one checker and the panel read the other, which saw a violation seconds later (a race
#: CI hit twice)
APP_KEY = "harness-live-invariants"


def live_of(app: Any) -> LiveInvariants | None:
    """The web app's live checker (the one the Invariants tab shows), if any."""
    live = app.extensions.get(APP_KEY)
    return live if isinstance(live, LiveInvariants) else None


@events.init.add_listener  # type: ignore[untyped-decorator]
def _add_invariants_tab(environment: Environment, **_: Any) -> None:
    web_ui = environment.web_ui
    if web_ui is None or web_ui.app is None or live_of(web_ui.app) is not None:
        return  # no web UI, or this file's other module object added the tab already
    session = load_session()
    live = LiveInvariants(
        state_dir=os.environ.get("HARNESS_STATE_DIR") or None,
        history_dir=history_path(workload_of(environment)).parent,
        min_interval_s=float(os.environ.get("HARNESS_UI_CHECK_INTERVAL", "5")),
        baseline=Baseline.from_json(session.get("baseline")) if session else None,
        anytime=frozenset(session["anytime"]) if "anytime" in session else None,
    )
    web_ui.app.extensions[APP_KEY] = live
    live.maybe_refresh()  # the first check starts now, not when a browser first asks
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

