"""The fault protocol: a named kind, a target, typed parameters, and idempotent start/stop.

Guarantees every fault keeps:

* the target and parameters are validated in the constructor, before anything is touched
  (:class:`InvalidTarget`, :class:`InvalidParams`, both exit code 2);
* ``start`` twice applies the fault once; ``stop`` twice (or without ``start``) is harmless;
* a fault that cannot be applied raises :class:`FaultError` naming the fault and the target, after
  undoing whatever part of it was applied;
* ``stop`` undoes everything ``start`` did, even when ``start`` failed halfway.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, NoReturn, TypeVar, cast

import asyncpg
import httpx
import psutil
import redis.exceptions

from chaos.context import ChaosContext
from chaos.errors import ChaosError, FaultError, InvalidTarget
from chaos.params import FaultParams, parse_params
from chaos.processes import ProcessTargetError
from harness.errors import HarnessError
from harness.stack.toxiproxy import ToxiproxyError

P = TypeVar("P", bound=FaultParams)

#: Low-level errors a fault translates into FaultError.
_LOW_LEVEL = (
    ToxiproxyError, HarnessError, OSError, httpx.HTTPError, psutil.Error, ProcessTargetError,
    redis.exceptions.RedisError, asyncpg.PostgresError, asyncpg.InterfaceError,
)


class Fault(abc.ABC, Generic[P]):
    """One fault kind. Subclasses set ``kind``, ``doc``, ``Params`` and implement the hooks."""

    kind: ClassVar[str]
    doc: ClassVar[str]
    Params: ClassVar[type[FaultParams]] = FaultParams

    def __init__(self, target: str, params: Mapping[str, Any] | FaultParams | None = None):
        self.check_target(target)
        self.target = target
        self.params: P = cast(P, parse_params(self.Params, params, fault=self.kind))
        self._applied = False  # True from the first start attempt until a successful stop
        self._started = False
        self._lock = asyncio.Lock()

    # --- what subclasses provide ---------------------------------------------------------
    @classmethod
    @abc.abstractmethod
    def valid_targets(cls) -> tuple[str, ...]:
        """The targets this kind can aim at (for validation and help)."""

    @classmethod
    def accepts(cls, target: str) -> bool:
        return target in cls.valid_targets()

    @abc.abstractmethod
    async def _apply(self, ctx: ChaosContext) -> None:
        """Apply the fault (called once per start)."""

    @abc.abstractmethod
    async def _remove(self, ctx: ChaosContext) -> None:
        """Undo everything ``_apply`` may have done; must tolerate a partial or no ``_apply``."""

    # --- the protocol --------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.kind

    @property
    def active(self) -> bool:
        """True between a successful ``start`` and the next ``stop``."""
        return self._started

    @classmethod
    def check_target(cls, target: str) -> None:
        if not cls.accepts(target):
            valid = ", ".join(cls.valid_targets())
            raise InvalidTarget(f"fault {cls.kind!r} cannot target {target!r}; valid: {valid}")

    async def start(self, ctx: ChaosContext) -> None:
        """Apply the fault; a second call while it is active does nothing."""
        async with self._lock:
            if self._started:
                return
            self._applied = True
            try:
                await self._apply(ctx)
            except BaseException as exc:
                with contextlib.suppress(Exception):  # the original error is the one to report
                    await self._remove(ctx)
                    self._applied = False
                self._reraise(exc, "could not be applied")
            self._started = True

    async def stop(self, ctx: ChaosContext) -> None:
        """Undo the fault; harmless when it is not applied or already stopped."""
        async with self._lock:
            if not self._applied:
                return
            try:
                await self._remove(ctx)
            except BaseException as exc:
                self._reraise(exc, "could not be removed")
            self._applied = False
            self._started = False

    def _reraise(self, exc: BaseException, what: str) -> NoReturn:
        """Re-raise ``exc``, low-level errors as FaultError naming this fault and target."""
        if isinstance(exc, ChaosError) or not isinstance(exc, _LOW_LEVEL):
            raise exc
        raise FaultError(self.kind, self.target, f"{what}: {exc}") from exc

    def observed(self) -> dict[str, Any]:
        """What the fault saw while it acted (e.g. the pid it paused), for the fault log."""
        return {}

    def describe(self) -> dict[str, Any]:
        """The fault as logged: kind, target and parameters."""
        return {"fault": self.kind, "target": self.target, "params": self.params.to_json()}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind} on {self.target} {self.params}>"
