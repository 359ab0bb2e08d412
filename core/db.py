"""The case database: one async engine per process, for SQLite (embedded default) and
PostgreSQL (asyncpg, production). Column types that behave the same on both live here."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession


def pool_limits() -> tuple[int, int]:
    """Connections one process may hold on PostgreSQL: ``UIFLOW_DB_POOL_SIZE`` kept open and
    ``UIFLOW_DB_MAX_OVERFLOW`` more under load (defaults 10 and 20). Read from the environment,
    as the engine is made before (and without) the settings in some commands. Every process of a
    deployment counts against the server's ``max_connections`` (100 by default): four processes
    at the defaults can need 120, so a stack of several workers and APIs on one server sets them
    lower (``uiflow drill`` does; docs/deployment.md)."""
    size = int(os.environ.get("UIFLOW_DB_POOL_SIZE", "10"))
    overflow = int(os.environ.get("UIFLOW_DB_MAX_OVERFLOW", "20"))
    return max(size, 1), max(overflow, 0)


def make_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    kwargs: dict[str, Any] = {"echo": echo}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30}
    else:
        size, overflow = pool_limits()
        kwargs.update(pool_size=size, max_overflow=overflow, pool_pre_ping=True)
    engine = create_async_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

    return engine


class Database:
    """Engine plus session factory; create one per process and share it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as s:
            yield s

    async def dispose(self) -> None:
        await self.engine.dispose()
