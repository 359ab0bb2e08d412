"""The shared base of the typed clients for the external government systems.

Why a base class: every system speaks the same contract (JSON over HTTP, bearer token, a request id
per call, errors as ``{"error": {"code", "message"}}``), and the caller must be able to tell a
*refusal* (the system answered "no": retrying cannot help, the case must record the reason) from a
*fault* (5xx, timeout, no connection: Temporal should retry). That distinction is made here once:

- ``ExternalRefused`` for a 4xx answer in the system's typed error body, with its code and Chinese
  message; "no record" is a refusal whose code ends in ``.not_found`` (``ExternalRefused.not_found``);
- ``ExternalUnavailable`` for a 5xx, 408/425/429, a timeout or a transport error, and for any 4xx
  the system did not answer in its typed body (an HTML error page of a gateway, a proxy's 404), or a
  404 that is not "no such record" (a wrong path). Lookups fail closed: a person's pension or
  benefit elsewhere is taken as absent only when the system itself says so, never because something
  in between answered 404 (``lookup`` gives up to operations after ``LOOKUP_MAX_ATTEMPTS``).

Activities list ``"ExternalRefused"`` among their retry policy's ``non_retryable_error_types`` (or
wrap it in a non-retryable ``ApplicationError``); ``ExternalUnavailable`` is left to retry.

Personal data (ID numbers, names, phones, accounts) travels in paths and bodies but is never
logged: the clients log the system, the method, the *path template*, the status and the latency,
and httpx's own per-request log line (which carries the full URL) is suppressed.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.settings import Settings, get_settings

log = logging.getLogger("uiflow.gov")

REQUEST_ID_HEADER = "X-Request-Id"


class _DropHttpxRequestLines(logging.Filter):
    """httpx logs ``HTTP Request: GET http://.../persons/<ID number>`` at INFO: that would put ID
    numbers in the logs, so those lines are dropped. Other httpx records pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("HTTP Request:")


_httpx_logger = logging.getLogger("httpx")
if not any(isinstance(f, _DropHttpxRequestLines) for f in _httpx_logger.filters):
    _httpx_logger.addFilter(_DropHttpxRequestLines())


# --- errors --------------------------------------------------------------------------------------


class ExternalSystemError(Exception):
    """Something went wrong talking to an external system. Messages never carry personal data, as
    they end up in Temporal failure records and logs."""

    def __init__(self, system: str, *args: Any) -> None:
        super().__init__(system, *args)
        self.system = system


class ExternalRefused(ExternalSystemError):
    """A business refusal (4xx): the system understood and said no. Not retryable."""

    def __init__(self, system: str, code: str, message_zh: str, status_code: int | None = None) -> None:
        super().__init__(system, code, message_zh, status_code)
        self.code = code
        self.message_zh = message_zh
        self.status_code = status_code

    def __str__(self) -> str:
        return f"{self.system} refused ({self.code}): {self.message_zh}"

    @property
    def not_found(self) -> bool:
        """The system said, in its typed body, that it has no such record."""
        return self.code.endswith(".not_found")


class ExternalUnavailable(ExternalSystemError):
    """A transient fault (5xx, timeout, connection error, unusable answer). Retryable."""

    def __init__(self, system: str, detail: str, status_code: int | None = None) -> None:
        super().__init__(system, detail, status_code)
        self.detail = detail
        self.status_code = status_code

    def __str__(self) -> str:
        return f"{self.system} unavailable: {self.detail}"


# --- configuration and the shared HTTP client ----------------------------------------------------


@dataclass(frozen=True)
class GovClientConfig:
    base_url: str
    token: str = field(repr=False)
    timeout_seconds: float = 10.0

    @classmethod
    def from_settings(cls, s: Settings | None = None) -> GovClientConfig:
        s = s or get_settings()
        return cls(base_url=s.sim_base_url, token=s.sim_token, timeout_seconds=s.external_timeout_seconds)


class GovModel(BaseModel):
    """Base of every response model: unknown fields are ignored, so a system adding a field does
    not break us; instances are frozen, since they are records of what a system said."""

    model_config = ConfigDict(extra="ignore", frozen=True)


M = TypeVar("M", bound=BaseModel)

# One AsyncClient per (event loop, config): connection pools cannot cross loops, and tests run
# several loops in one process. Weak keys let a finished loop's clients be collected.
_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[GovClientConfig, httpx.AsyncClient]] = (
    weakref.WeakKeyDictionary()
)


# Loops that cannot be weakly referenced (some third-party loops) fall back to a plain dict.
_strong_pools: dict[asyncio.AbstractEventLoop, dict[GovClientConfig, httpx.AsyncClient]] = {}


def _pools_of(loop: asyncio.AbstractEventLoop) -> dict[GovClientConfig, httpx.AsyncClient]:
    try:
        return _pools.setdefault(loop, {})
    except TypeError:
        return _strong_pools.setdefault(loop, {})


def _shared_http(config: GovClientConfig) -> httpx.AsyncClient:
    per_loop = _pools_of(asyncio.get_running_loop())
    client = per_loop.get(config)
    if client is None or client.is_closed:
        client = httpx.AsyncClient(
            base_url=config.base_url.rstrip("/"),
            timeout=httpx.Timeout(config.timeout_seconds),
            headers={"Authorization": f"Bearer {config.token}", "Accept": "application/json"},
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )
        per_loop[config] = client
    return client


async def close_all() -> None:
    """Close every shared HTTP client of the running loop (worker shutdown, test teardown)."""
    per_loop = _pools_of(asyncio.get_running_loop())
    clients = list(per_loop.values())
    per_loop.clear()
    for client in clients:
        await client.aclose()


class GovClient:
    """Base of the per-system clients. Cheap to construct: the connection pool is shared by every
    client with the same config in the same event loop, and created on first use."""

    system: ClassVar[str] = ""

    def __init__(self, config: GovClientConfig) -> None:
        self.config = config

    @classmethod
    def from_settings(cls, s: Settings | None = None) -> Self:
        return cls(GovClientConfig.from_settings(s))

    async def close(self) -> None:
        """Close the shared pool for this config in the running loop; the next call opens a new one."""
        client = _pools_of(asyncio.get_running_loop()).pop(self.config, None)
        if client is not None:
            await client.aclose()

    async def _call(
        self,
        method: str,
        template: str,
        model: type[M],
        *,
        path: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> M:
        data = await self._call_json(method, template, path=path, params=params, json=json)
        try:
            return model.model_validate(data)
        except ValidationError as e:
            # A contract break is not the caller's refusal; report it as unavailable so it is retried
            # and, if it persists, surfaces to operations. Only field locations are kept (no values).
            where = ", ".join(".".join(str(p) for p in err["loc"]) for err in e.errors()[:5])
            raise ExternalUnavailable(
                self.system, f"response does not match the contract ({where})"
            ) from None

    async def _call_json(
        self,
        method: str,
        template: str,
        *,
        path: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> Any:
        url = template.format(**{k: quote(v, safe="") for k, v in (path or {}).items()})
        headers = {REQUEST_ID_HEADER: uuid.uuid4().hex}
        started = time.perf_counter()
        status: int | str = "-"
        try:
            resp = await _shared_http(self.config).request(
                method, url, params=params, json=json, headers=headers
            )
            status = resp.status_code
        except httpx.TimeoutException as e:
            status = "timeout"
            raise ExternalUnavailable(self.system, f"timed out ({type(e).__name__})") from None
        except httpx.TransportError as e:
            status = "transport-error"
            raise ExternalUnavailable(self.system, f"connection failed ({type(e).__name__})") from None
        finally:
            log.info(
                "gov %s %s %s -> %s in %.0f ms",
                self.system,
                method,
                template,
                status,
                (time.perf_counter() - started) * 1000,
                extra={"gov_system": self.system, "gov_path": template, "gov_status": status},
            )
        return self._decode(resp)

    def _decode(self, resp: httpx.Response) -> Any:
        code = resp.status_code
        if 200 <= code < 300:
            try:
                return resp.json()
            except ValueError:
                raise ExternalUnavailable(self.system, "response is not JSON", code) from None
        typed = _error_of(resp)
        if code in (408, 425, 429) or code >= 500:
            raise ExternalUnavailable(self.system, f"HTTP {code} {typed[0] if typed else 'untyped'}", code)
        if 400 <= code < 500:
            if typed is None:
                # not the system's own answer: a gateway's or proxy's page (fail closed, retry)
                raise ExternalUnavailable(self.system, f"HTTP {code} without the system's error body", code)
            err_code, message = typed
            if code == 404 and not err_code.endswith(".not_found"):
                # a 404 for the path, not for the record (wrong base URL, route gone): a fault
                raise ExternalUnavailable(self.system, f"HTTP 404 {err_code} (no such endpoint)", code)
            raise ExternalRefused(self.system, err_code, message, code)
        raise ExternalUnavailable(self.system, f"unexpected HTTP {code}", code)


def _error_of(resp: httpx.Response) -> tuple[str, str] | None:
    """The system's typed error ``{"error": {"code", "message"}}``, or None for anything else."""
    try:
        err = resp.json()["error"]
        code, message = err["code"], err["message"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(code, str) or not isinstance(message, str) or not code:
        return None
    return code, message


# --- lookups that may find no record -------------------------------------------------------------

# How often a lookup is retried (Temporal's backoff: 1 s doubling, about 8 minutes in all) before
# the case is handed to operations as blocked, rather than decided on an answer nobody gave.
LOOKUP_MAX_ATTEMPTS = 10
T = TypeVar("T")


async def lookup(call: Awaitable[T]) -> T | None:
    """One external lookup inside an activity: the answer; None only when the system says in its
    typed body that it has no record (a fact the checks report); a non-retryable error for any
    other business refusal. A fault is retried by Temporal and, after ``LOOKUP_MAX_ATTEMPTS``,
    refused for good so that the workflow blocks the case for operations."""
    try:
        return await call
    except ExternalRefused as e:
        if e.not_found:
            return None
        raise ApplicationError(str(e), type=f"ExternalRefused:{e.system}", non_retryable=True) from e
    except ExternalUnavailable as e:
        if activity.in_activity() and activity.info().attempt >= LOOKUP_MAX_ATTEMPTS:
            raise ApplicationError(
                f"外部系统（{e.system}）多次查询均无有效答复，已转运维核查：{e.detail}",
                type="lookup.unavailable",
                non_retryable=True,
            ) from e
        raise
