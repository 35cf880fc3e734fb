"""Admin endpoints (``X-Admin-Token`` = ``HARNESS_ADMIN_TOKEN``; disabled when it is empty).

``POST /admin/failpoints`` ``{"enable": [..], "disable": [..], "count": N, "clear": bool}`` or
``{"arm": {name: N | null | {"remaining": N, "action": "crash"|"delay"|"pause", "seconds": S,
"instance": "<TARGET_INSTANCE>", "chance": P}}, "disarm": [..]}`` arms failpoints for every
process (or the one ``instance``) through the shared ``failpoints`` table (N: fire at most N
times in total; null or 0: every hit; P: each hit fires with this probability; no action: the
failpoint's default, see ``failpoints.default_action``).
An optional ``"not_after": <unix seconds>`` makes the change all-or-nothing against the database
clock: served later (a request the kernel queued on a paused process, served after the caller
gave up and someone healed), it changes nothing and answers 409 ``REQUEST_EXPIRED``.
``POST /admin/on-sale`` ``{"event_id": E, "low_water": 0.5}`` opens one more wave of every
section of E whose free seats fell below ``low_water`` of its seeded size (rolling on-sales,
``target_service/on_sale.py``); the harness calls it on a timer during the load.
``POST /admin/recover[?force=1]`` runs every sweeper once. ``GET /admin/introspect`` answers
what the introspection door (``target_service/introspection.py``) answers: clocks, armed
failpoints, pending work, seat locks held.
"""

from __future__ import annotations

import dataclasses
import hmac
import logging
from typing import Any

from aiohttp import web

from target_service import introspection
from target_service import on_sale as rolling
from target_service.api import DEPS
from target_service.failpoints import (
    ACTIONS,
    FAILPOINTS,
    SELECT_ARMS,
    UPSERT_ARM,
    Arm,
    arm_of,
    arm_row,
)
from target_service.problems import Problem, json_response
from target_service.sweepers import Sweepers
from target_service.validation import read_json

log = logging.getLogger(__name__)
SWEEPERS = web.AppKey("sweepers", Sweepers)


def _check(request: web.Request) -> None:
    expected = request.app[DEPS].settings.admin_token
    given = request.headers.get("X-Admin-Token", "")
    # surrogateescape: the header's bytes as sent, so a non-UTF-8 byte is a 403, not a 500
    if not expected or not hmac.compare_digest(given.encode("utf-8", "surrogateescape"),
                                               expected.encode()):
        raise Problem("FORBIDDEN", "admin endpoints need the right X-Admin-Token")


async def refresh_failpoints(request_app: web.Application) -> None:
    """Reload the shared armed set into this process."""
    deps = request_app[DEPS]
    rows = await deps.seats.fetch(SELECT_ARMS)
    deps.failpoints.update_shared({r["name"]: arm_of(r) for r in rows})


def _arming(value: Any) -> Arm:
    """An ``arm`` entry -> :class:`Arm`; 400 for anything else."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return Arm(remaining=value or None)
    if not isinstance(value, dict) or set(value) - {"remaining", "action", "seconds",
                                                     "instance", "chance"}:
        raise Problem("BAD_REQUEST", "arm must map failpoint names to a count, null or"
                      " {remaining, action, seconds, instance, chance}")
    remaining, action = value.get("remaining"), value.get("action")
    seconds, instance = value.get("seconds"), value.get("instance")
    if remaining is not None and (not isinstance(remaining, int) or isinstance(remaining, bool)
                                  or remaining < 0):
        raise Problem("BAD_REQUEST", "remaining must be a count >= 0 or null")
    if action is not None and action not in ACTIONS:
        raise Problem("BAD_REQUEST", f"action must be one of {list(ACTIONS)} or null")
    if seconds is not None and (not isinstance(seconds, int | float) or isinstance(seconds, bool)
                                or not 0 <= seconds <= 600):
        raise Problem("BAD_REQUEST", "seconds must be a number from 0 to 600 or null")
    if instance is not None and (not isinstance(instance, str) or not 0 < len(instance) <= 64):
        raise Problem("BAD_REQUEST", "instance must be a service instance name or null")
    chance = value.get("chance")
    if chance is not None and (not isinstance(chance, int | float) or isinstance(chance, bool)
                               or not 0 < chance <= 1):
        raise Problem("BAD_REQUEST", "chance must be a number in (0, 1] or null")
    return Arm(remaining or None, action, None if seconds is None else float(seconds), instance,
               None if chance is None else float(chance))


def _state(request: web.Request) -> dict[str, Any]:
    deps = request.app[DEPS]
    return {"armed": deps.failpoints.armed(), "known": FAILPOINTS,
            "instance": deps.settings.instance}


async def get_failpoints(request: web.Request) -> web.Response:
    _check(request)
    await refresh_failpoints(request.app)
    return json_response(_state(request))


async def set_failpoints(request: web.Request) -> web.Response:
    _check(request)
    deps = request.app[DEPS]
    body = await read_json(request, max_bytes=4096, max_depth=4)
    extra = set(body) - {"enable", "disable", "count", "clear", "arm", "disarm", "not_after"}
    if extra:
        raise Problem("BAD_REQUEST", f"unknown fields: {sorted(extra)}")
    raw_arm = body.get("arm", {})
    if not isinstance(raw_arm, dict):
        raise Problem("BAD_REQUEST", "arm must map failpoint names to a count or null")
    arm = {name: _arming(v) for name, v in raw_arm.items()}
    enable, disable, disarm = (body.get(k, []) for k in ("enable", "disable", "disarm"))
    if not all(isinstance(v, list) for v in (enable, disable, disarm)):
        raise Problem("BAD_REQUEST", "enable/disable/disarm must be arrays of names")
    disable = disable + disarm
    count = body.get("count")
    counted = [(n, Arm(remaining=count)) for n in enable] + list(arm.items())
    enable = enable + list(arm)
    for name_list in (enable, disable):
        if not isinstance(name_list, list) or not all(isinstance(n, str) for n in name_list):
            raise Problem("BAD_REQUEST", "enable/disable must be arrays of names")
        unknown = sorted(set(name_list) - FAILPOINTS.keys())
        if unknown:
            raise Problem("BAD_REQUEST", f"unknown failpoints: {unknown}")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool)
                              or count < 1):
        raise Problem("BAD_REQUEST", "count must be a positive integer or null")
    not_after = body.get("not_after")
    if not_after is not None and (not isinstance(not_after, int | float)
                                  or isinstance(not_after, bool)):
        raise Problem("BAD_REQUEST", "not_after must be a number (unix seconds) or null")
    async with deps.seats.acquire() as conn, conn.transaction():
        if body.get("clear"):
            await conn.execute("DELETE FROM failpoints")
        if disable:
            await conn.execute("DELETE FROM failpoints WHERE name = ANY($1::text[])", disable)
        for name, a in counted:
            await conn.execute(UPSERT_ARM, name, *arm_row(a))
        # Last, so that only the commit itself can still be late (heal_all disarms again).
        late = None if not_after is None else await conn.fetchval(
            "SELECT extract(epoch FROM clock_timestamp()) - $1::float8", float(not_after))
        if late is not None and late > 0:
            log.warning("admin failpoint change refused: served %.3f s after its not_after", late)
            raise Problem("REQUEST_EXPIRED", f"served {late:.3f} s after not_after; not changed")
    await refresh_failpoints(request.app)
    return json_response(_state(request))


async def recover(request: web.Request) -> web.Response:
    _check(request)
    force = request.query.get("force", "") not in ("", "0", "false")
    rep = await request.app[SWEEPERS].sweep(force=force)
    return json_response(dataclasses.asdict(rep))


#: the most free seats (in seeded sizes of the section) an on-sale call may ask for
MAX_LOW_WATER = 16


async def on_sale(request: web.Request) -> web.Response:
    _check(request)
    deps = request.app[DEPS]
    body = await read_json(request, max_bytes=4096, max_depth=2)
    extra = set(body) - {"event_id", "low_water"}
    if extra:
        raise Problem("BAD_REQUEST", f"unknown fields: {sorted(extra)}")
    event_id, low_water = body.get("event_id"), body.get("low_water", 0.5)
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 64:
        raise Problem("BAD_REQUEST", "event_id must be a non-empty string of at most 64")
    if (not isinstance(low_water, int | float) or isinstance(low_water, bool)
            or not 0 <= low_water <= MAX_LOW_WATER):
        raise Problem("BAD_REQUEST", f"low_water must be a number from 0 to {MAX_LOW_WATER}")
    spec = rolling.spec_of(event_id)
    if spec is None:
        raise Problem("EVENT_NOT_FOUND", f"no seeded event {event_id!r}")
    try:
        async with deps.seats.acquire() as conn:
            opened, free = await rolling.open_waves(conn, spec, float(low_water))
    except LookupError:
        raise Problem("EVENT_NOT_FOUND", f"no event {event_id!r} in the database") from None
    return json_response({"event_id": event_id, "opened": [dataclasses.asdict(o) for o in opened],
                          "free": free})


async def introspect(request: web.Request) -> web.Response:
    _check(request)
    return json_response(await introspection.snapshot(request.app[DEPS].settings))
