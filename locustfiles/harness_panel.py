"""The harness panel of the web UI: the session, the stack's faults, and a form to inject one.

Loaded beside the buyer in a `harness ui` session (``locust -f ...,harness_panel.py``). Through
Locust's web UI extension (routes on ``environment.web_ui.app``) it adds:

* ``GET /harness/session``: the strategy, the seeded bug, the business outcomes so far (the
  report's names: sold, conflict, payment_failed, unknown), the active faults and the fault
  windows (as the session's `harness ui` process last saw them on the stack, whoever injected
  them), the invariants first seen violated, and the load's requests/s and failures/s;
* ``POST /harness/faults`` (``{"fault", "target", "for_s"}``): injects one fault through the
  chaos layer, by starting `harness chaos <fault> <target> --for <for_s>s` (its own process,
  which heals it after ``for_s``); ``POST /harness/heal`` runs `harness chaos heal`;
* ``GET /harness/panel.js``, and a ``<script>`` tag for it in the UI's page, which draws the
  panel above Locust's own UI (a bar with the session and a chart of the load with the fault
  windows shaded and the first violations marked), and makes Locust's "Failures" header exact
  (Locust rounds it to a whole percent, so 2 failures in 1,000 requests read "0%").

Bad requests are RFC 9457 problems (4xx), never 500.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import gevent  # type: ignore[import-untyped]
from flask import Response, jsonify, request, send_file
from locust import events
from locust.env import Environment

from harness.contract.history import HistoryEvent
from harness.contract.outcomes import OUTCOME_NAMES, outcome_of
from harness.paths import REPO_ROOT
from locustfiles import invariants_tab
from locustfiles.ui_session import load_session, read_active

PANEL_JS = Path(__file__).with_name("harness_panel.js")
#: ``for_s`` bounds of a fault injected from the UI.
MIN_FOR_S, MAX_FOR_S = 1.0, 600.0
#: How long an injection may take to fail at once (bad input, stack down) before it is
#: reported as started.
EARLY_EXIT_S = 3.0
_numbers = itertools.count(1)


def problem(status: int, title: str, detail: str, code: str) -> Response:
    response = jsonify({"type": "about:blank", "title": title, "status": status,
                        "detail": detail, "code": code})
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def _harness(session: dict[str, Any], *args: str) -> list[str]:
    return [sys.executable, "-m", "harness", "--state-dir", str(session["state_dir"]), *args]


def chart_points(environment: Environment) -> list[list[Any]]:
    """[[ISO time, requests/s, failures/s], ...] of Locust's stats history (last 30 minutes)."""
    runner = environment.runner
    if runner is None:
        return []
    rows = runner.stats.history[-900:]
    return [[r["time"], r["current_rps"][1], r["current_fail_per_sec"][1]] for r in rows]


def request_counts(environment: Environment) -> dict[str, int]:
    """Requests and failures since the last reset (what Locust's own header rounds to 0%)."""
    runner = environment.runner
    if runner is None:
        return {"requests": 0, "failures": 0}
    total = runner.stats.total
    return {"requests": int(total.num_requests), "failures": int(total.num_failures)}


def fault_request(session: dict[str, Any], body: Any) -> tuple[str, str, float] | Response:
    """(fault, target, for_s) of a valid request; a 400 problem naming the field otherwise."""
    if not isinstance(body, dict):
        return problem(400, "Bad request", "expected a JSON object or a form", "BAD_REQUEST")
    kinds: dict[str, Any] = session.get("fault_kinds") or {}
    fault, target = str(body.get("fault") or ""), str(body.get("target") or "")
    if fault not in kinds:
        return problem(400, "Unknown fault", f"fault {fault!r}; valid: {', '.join(kinds)}",
                       "UNKNOWN_FAULT")
    targets = kinds[fault]["targets"]
    if target not in targets:
        return problem(400, "Invalid target", f"{fault} cannot break {target!r}; valid: "
                       f"{', '.join(targets)}", "INVALID_TARGET")
    try:
        for_s = float(body.get("for_s") or 15)
    except (TypeError, ValueError):
        return problem(400, "Invalid duration", f"for_s {body.get('for_s')!r} is not a number",
                       "INVALID_DURATION")
    if not MIN_FOR_S <= for_s <= MAX_FOR_S:
        return problem(400, "Invalid duration", f"for_s must be within {MIN_FOR_S:g}.."
                       f"{MAX_FOR_S:g} seconds (got {for_s:g})", "INVALID_DURATION")
    return fault, target, for_s


def _start_chaos(session: dict[str, Any], fault: str, target: str, for_s: float) -> Response:
    log = Path(str(session["run_dir"])) / f"chaos-{next(_numbers)}-{fault}-{target}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            _harness(session, "chaos", fault, target, "--for", f"{for_s:g}s"), cwd=REPO_ROOT,
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + EARLY_EXIT_S
    while proc.poll() is None and time.monotonic() < deadline:
        if "applied" in log.read_text(encoding="utf-8", errors="replace"):
            break
        gevent.sleep(0.1)
    code = proc.poll()
    if code is not None and code != 0:
        said = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        status = 400 if code == 2 else 503
        return problem(status, "The fault was not applied", said[-1] if said else f"exit {code}",
                       "FAULT_NOT_APPLIED")
    response = jsonify({"fault": fault, "target": target, "for_s": for_s, "pid": proc.pid,
                        "log": str(log)})
    response.status_code = 202
    return response


@events.init.add_listener  # type: ignore[untyped-decorator]
def _add_panel(environment: Environment, **_: Any) -> None:
    web_ui = environment.web_ui
    if web_ui is None or web_ui.app is None:
        return
    session = load_session()
    app = web_ui.app
    outcomes = dict.fromkeys(OUTCOME_NAMES, 0)

    def count(event: HistoryEvent, **_: Any) -> None:
        outcome = outcome_of(event)
        if outcome is not None:
            outcomes[outcome] += 1

    environment.events.history.add_listener(count)  # type: ignore[attr-defined]

    @app.route("/harness/panel.js")
    def panel_js() -> Response:
        return send_file(PANEL_JS, mimetype="text/javascript", max_age=0)

    @app.route("/harness/session")
    def session_state() -> Response:
        active = read_active(session)
        live = invariants_tab.live_of(app)
        return jsonify({
            "session": bool(session),
            **{k: session.get(k) for k in ("run_id", "strategy", "bug", "scenario", "event_id",
                                           "run_dir", "started_wall", "fault_kinds")},
            "active": active.get("active", []), "windows": active.get("windows", []),
            "fault_errors": active.get("errors", []),
            "violated": [{"name": n, "wall": w}
                         for n, w in (live.first_violated.items() if live else ())],
            "chart": chart_points(environment), **request_counts(environment),
            "outcomes": [[k, outcomes[k]] for k in OUTCOME_NAMES],  # in the report's order
        })

    @app.route("/harness/faults", methods=["POST"])
    def inject() -> Response:
        if not session:
            return problem(409, "No session", "fault injection needs `harness ui`",
                           "NO_SESSION")
        body = request.get_json(silent=True) if request.is_json else request.form.to_dict()
        parsed = fault_request(session, body)
        if isinstance(parsed, Response):
            return parsed
        return _start_chaos(session, *parsed)

    @app.route("/harness/heal", methods=["POST"])
    def heal() -> Response:
        if not session:
            return problem(409, "No session", "healing needs `harness ui`", "NO_SESSION")
        done = subprocess.run(
            _harness(session, "chaos", "heal"), cwd=REPO_ROOT, capture_output=True, text=True,
            timeout=120, check=False)
        said = (done.stdout + done.stderr).strip()
        if done.returncode != 0:
            return problem(503, "Healing failed", said or f"exit {done.returncode}",
                           "HEAL_FAILED")
        return jsonify({"healed": said})

    @app.after_request
    def _inject_script(response: Response) -> Response:
        if request.path != "/" or response.mimetype != "text/html" or response.direct_passthrough:
            return response
        html = response.get_data(as_text=True)
        tag = '<script src="./harness/panel.js" defer></script>'
        response.set_data(html.replace("</body>", f"{tag}\n</body>", 1))
        return response
