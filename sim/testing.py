"""Start the simulator (or any ASGI app) on a real socket inside the test's own event loop.

Real HTTP rather than an in-process transport, so the clients' timeouts, connection errors and
headers are exercised exactly as in production, and a Temporal worker in the same loop can reach
it. uvicorn's ``Server.serve`` runs as a task; ``Config.setup_event_loop`` is never called, so the
running loop (pytest-asyncio's) is used as is.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI

from sim.app import create_app
from sim.state import SimState


@dataclass
class SimHandle:
    base_url: str
    state: SimState
    app: FastAPI

    @property
    def token(self) -> str:
        return self.state.config.token


@asynccontextmanager
async def serve_app(app: Any, host: str = "127.0.0.1", *, shutdown_grace: int = 1) -> AsyncIterator[str]:
    """Serve ``app`` on a free port of ``host``; yield its base URL; stop it on exit. The socket is
    bound here (port 0) and handed to uvicorn, so there is no race for the port."""
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted connections only when the
    # listening socket says so, and without it every keep-alive request waits ~40 ms (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=shutdown_grace,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # re-raise the startup failure
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.005)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(task, timeout=shutdown_grace + 5)
        except TimeoutError:
            task.cancel()
        sock.close()


@asynccontextmanager
async def running_sim(**create_app_kwargs: Any) -> AsyncIterator[SimHandle]:
    """``async with running_sim(seed=7, population=200) as sim:`` then point clients at
    ``sim.base_url`` and inspect or steer ``sim.state``."""
    app = create_app(**create_app_kwargs)
    async with serve_app(app) as base_url:
        yield SimHandle(base_url=base_url, state=app.state.sim, app=app)
