"""The drill's API client: round-robin over the API processes, retrying what a killed process left
unanswered.

A request that got no answer (connection refused or reset, a timeout, a 502/503/504) may or may not
have been carried out. Reads are simply repeated. Writes carry an ``Idempotency-Key`` (a server
that supports it returns the first receipt for a repeat) and, before a decision is repeated, the
case is read back: if it already shows the decision's outcome the decision counts as done, which
is what a careful clerk would do with a dialog that froze."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

RETRY_STATUSES = frozenset({500, 502, 503, 504})


@dataclass
class ApiStats:
    requests: int = 0
    retried: int = 0
    unanswered: int = 0  # transport errors (the process was gone or went away mid-request)
    server_errors: dict[int, int] = field(default_factory=dict)
    readback_resolved: int = 0  # a decision found already made when read back after no answer

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "retried": self.retried,
            "unanswered": self.unanswered,
            "server_errors": {str(k): v for k, v in sorted(self.server_errors.items())},
            "readback_resolved": self.readback_resolved,
        }


class GaveUp(Exception):
    """Retries for one request ran past the drill's limit: counted as a failure of the claim."""


class RoundRobinApi:
    """One ``httpx`` client per API process; each request goes to the next one, and a retry to the
    one after, so a dead process costs a retry, not a failure."""

    def __init__(self, urls: list[str], *, retry_for_s: float = 600.0, timeout_s: float = 60.0) -> None:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
        self.clients = [httpx.AsyncClient(base_url=u, timeout=timeout_s, limits=limits) for u in urls]
        self._next = itertools.cycle(range(len(self.clients)))
        self.retry_for_s = retry_for_s
        self.stats = ApiStats()

    async def aclose(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self.clients))

    async def once(self, method: str, path: str, **kw: Any) -> httpx.Response | None:
        """One attempt on the next process: the response, or None when nothing came back."""
        client = self.clients[next(self._next)]
        self.stats.requests += 1
        try:
            r = await client.request(method, path, **kw)
        except httpx.TransportError:
            self.stats.unanswered += 1
            return None
        if r.status_code in RETRY_STATUSES:
            self.stats.server_errors[r.status_code] = self.stats.server_errors.get(r.status_code, 0) + 1
        return r

    async def request(
        self,
        method: str,
        path: str,
        *,
        settled: Callable[[], Awaitable[bool]] | None = None,
        **kw: Any,
    ) -> httpx.Response | None:
        """Send until a definite answer (anything but no answer or a 5xx). ``settled`` is the
        read-back for writes: asked before each repeat, True means the write is known to have
        taken effect and None is returned (the caller then reads the state it needs)."""
        deadline = time.monotonic() + self.retry_for_s
        delay = 0.2
        first = True
        while True:
            if not first:
                self.stats.retried += 1
                if settled is not None and await settled():
                    self.stats.readback_resolved += 1
                    return None
            first = False
            r = await self.once(method, path, **kw)
            if r is not None and r.status_code not in RETRY_STATUSES:
                return r
            if time.monotonic() > deadline:
                what = "no answer" if r is None else f"HTTP {r.status_code}"
                raise GaveUp(f"{method} {path}: {what} for {self.retry_for_s:.0f}s")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 3.0)

    async def get_json(self, path: str, headers: dict[str, str]) -> tuple[int, Any]:
        r = await self.request("GET", path, headers=headers)
        assert r is not None  # no read-back for reads
        try:
            return r.status_code, r.json()
        except ValueError:
            return r.status_code, None
