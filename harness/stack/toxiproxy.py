"""A small, typed async client for Toxiproxy's HTTP API (v2.12.0), built on httpx.

Every call has a timeout (Toxiproxy's API can hang under load), updates use PATCH, and every
error names the proxy (and toxic) it was about.

Exception tree::

    ToxiproxyError                 any failure talking to Toxiproxy
    ├── ToxiproxyUnavailable       the API could not be reached or timed out
    └── ToxiproxyAPIError          the API answered with an error status
        └── ProxyNotFound          404 for a proxy or toxic
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

Stream = Literal["upstream", "downstream"]

#: Toxiproxy refuses user agents that start with ``Mozilla/``; say who we are.
USER_AGENT = "booking-harness-toxiproxy/1"


#: the title of an HTML error page (Go's http.TimeoutHandler answers 503 with a "Timeout" page)
_HTML_TITLE = re.compile(r"<title>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def error_detail(body: str) -> str:
    """An error answer's body as a message shows it: an HTML page's title, else the text."""
    found = _HTML_TITLE.search(body)
    return (found.group(1) if found else body).strip()


class ToxiproxyError(Exception):
    """Base of every Toxiproxy client error."""


class ToxiproxyUnavailable(ToxiproxyError):
    """The Toxiproxy API did not answer (refused, reset or timed out)."""


class ToxiproxyAPIError(ToxiproxyError):
    """The Toxiproxy API answered with an error status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class ProxyNotFound(ToxiproxyAPIError):
    """The named proxy (or toxic) does not exist."""


@dataclass(frozen=True, slots=True)
class Toxic:
    """A toxic as Toxiproxy reports it."""

    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, Any]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Toxic:
        return cls(
            name=str(data["name"]),
            type=str(data["type"]),
            stream=str(data.get("stream", "downstream")),
            toxicity=float(data.get("toxicity", 1.0)),
            attributes=dict(data.get("attributes") or {}),
        )


@dataclass(frozen=True, slots=True)
class Proxy:
    """A proxy as Toxiproxy reports it."""

    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: tuple[Toxic, ...] = field(default=())

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Proxy:
        toxics = tuple(Toxic.from_json(t) for t in data.get("toxics") or ())
        return cls(
            name=str(data["name"]),
            listen=str(data["listen"]),
            upstream=str(data["upstream"]),
            enabled=bool(data["enabled"]),
            toxics=toxics,
        )


#: a call that can stall and is safe to repeat (removing a toxic, a reset) is tried again with
#: these longer timeouts when Toxiproxy does not answer: its API can stall while a toxic is
#: removed under traffic (Shopify/toxiproxy#558; seen here on ``DELETE`` of a latency toxic
#: and on ``POST /reset``, each failing a run after one 5 s try)
PATIENCE_S = (15.0, 30.0)
#: every call's first timeout
TIMEOUT_S = 5.0


class Toxiproxy:
    """Async client for one Toxiproxy server; use as ``async with Toxiproxy(url) as tp``."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
        patience: tuple[float, ...] = PATIENCE_S,
    ) -> None:
        self.patience = patience
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": USER_AGENT, "Content-Type": "application/json"},
            transport=transport,
        )

    async def __aenter__(self) -> Toxiproxy:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _patient(
        self, method: str, path: str, *, what: str, ok: Sequence[int] = (200,)
    ) -> Any:
        """:meth:`_request` of a call that is safe to repeat, tried again with each timeout
        of :attr:`patience` while Toxiproxy does not answer (a repeated ``DELETE`` whose first
        try did land answers 404: :class:`ProxyNotFound`)."""
        tries = (None, *self.patience)
        for i, wait_s in enumerate(tries):
            try:
                return await self._request(method, path, what=what, ok=ok, wait_s=wait_s)
            except ToxiproxyUnavailable:
                if i == len(tries) - 1:
                    raise
        return None  # unreachable: the last try returns or raises

    async def _request(
        self, method: str, path: str, *, what: str, json: Any = None, ok: Sequence[int] = (200,),
        wait_s: float | None = None,
    ) -> Any:
        timeout = self._client.timeout if wait_s is None else httpx.Timeout(wait_s)
        try:
            response = await self._client.request(method, path, json=json, timeout=timeout)
        except httpx.TimeoutException as exc:
            raise ToxiproxyUnavailable(
                f"Toxiproxy at {self.base_url} timed out on {method} {path} ({what})"
            ) from exc
        except httpx.TransportError as exc:
            raise ToxiproxyUnavailable(
                f"Toxiproxy at {self.base_url} unreachable on {method} {path} ({what}): {exc}"
            ) from exc
        if response.status_code not in ok:
            detail = error_detail(response.text)
            message = f"Toxiproxy {method} {path} ({what}) -> {response.status_code}: {detail}"
            if response.status_code == 404:
                raise ProxyNotFound(message, 404)
            raise ToxiproxyAPIError(message, response.status_code)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    async def version(self) -> str:
        """The server's version string (``2.12.0`` when built with the version ldflag)."""
        data = await self._request("GET", "/version", what="version")
        if isinstance(data, dict):
            return str(data.get("version", ""))
        return str(data)

    async def proxies(self) -> dict[str, Proxy]:
        data = await self._request("GET", "/proxies", what="list proxies")
        return {name: Proxy.from_json(p) for name, p in (data or {}).items()}

    async def get_proxy(self, name: str) -> Proxy:
        data = await self._request("GET", f"/proxies/{name}", what=f"proxy {name!r}")
        return Proxy.from_json(data)

    async def create_proxy(
        self, name: str, listen: str, upstream: str, *, enabled: bool = True
    ) -> Proxy:
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": enabled}
        data = await self._request(
            "POST", "/proxies", what=f"create proxy {name!r}", json=body, ok=(200, 201)
        )
        return Proxy.from_json(data)

    async def update_proxy(self, name: str, **fields: Any) -> Proxy:
        """PATCH a proxy's ``listen``, ``upstream`` or ``enabled``."""
        data = await self._request(
            "PATCH", f"/proxies/{name}", what=f"update proxy {name!r}", json=fields
        )
        return Proxy.from_json(data)

    async def set_enabled(self, name: str, enabled: bool) -> Proxy:
        """Enable or disable a proxy; disabling refuses new connections and cuts open ones."""
        return await self.update_proxy(name, enabled=enabled)

    async def delete_proxy(self, name: str) -> None:
        await self._request(
            "DELETE", f"/proxies/{name}", what=f"delete proxy {name!r}", ok=(200, 204)
        )

    async def populate(self, proxies: Sequence[Mapping[str, Any]]) -> dict[str, Proxy]:
        """Create or replace proxies in one call (existing ones with a new config are recreated)."""
        data = await self._request(
            "POST", "/populate", what="populate", json=list(proxies), ok=(200, 201)
        )
        listed = data.get("proxies", []) if isinstance(data, dict) else []
        return {str(p["name"]): Proxy.from_json(p) for p in listed}

    async def reset(self) -> None:
        """Enable every proxy and remove every toxic (patient: see :data:`PATIENCE_S`)."""
        await self._patient("POST", "/reset", what="reset", ok=(200, 204))

    async def toxics(self, proxy: str) -> list[Toxic]:
        data = await self._request("GET", f"/proxies/{proxy}/toxics", what=f"toxics of {proxy!r}")
        return [Toxic.from_json(t) for t in data or ()]

    async def add_toxic(
        self,
        proxy: str,
        type: str,
        *,
        name: str | None = None,
        stream: Stream = "downstream",
        toxicity: float = 1.0,
        attributes: Mapping[str, Any] | None = None,
    ) -> Toxic:
        body: dict[str, Any] = {
            "type": type,
            "stream": stream,
            "toxicity": toxicity,
            "attributes": dict(attributes or {}),
        }
        if name is not None:
            body["name"] = name
        data = await self._request(
            "POST",
            f"/proxies/{proxy}/toxics",
            what=f"add {type} toxic {name or ''!s} to proxy {proxy!r}",
            json=body,
            ok=(200, 201),
        )
        return Toxic.from_json(data)

    async def update_toxic(
        self,
        proxy: str,
        toxic: str,
        *,
        attributes: Mapping[str, Any],
        toxicity: float | None = None,
    ) -> None:
        body: dict[str, Any] = {"attributes": dict(attributes)}
        if toxicity is not None:
            body["toxicity"] = toxicity
        await self._request(
            "PATCH",
            f"/proxies/{proxy}/toxics/{toxic}",
            what=f"update toxic {toxic!r} of proxy {proxy!r}",
            json=body,
        )

    async def remove_toxic(self, proxy: str, toxic: str) -> None:
        """Remove one toxic (patient: see :data:`PATIENCE_S`)."""
        await self._patient(
            "DELETE",
            f"/proxies/{proxy}/toxics/{toxic}",
            what=f"remove toxic {toxic!r} from proxy {proxy!r}",
            ok=(200, 204),
        )
