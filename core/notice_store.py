"""Notices made on first use: the layout a case's deciding step worded (``NoticeLayout``) is kept
as a JSON snapshot in the document store, and the PDF is rendered from it on the first download or
verification, then stored with its SHA-256 like any document.

Why: rendering a notice (fpdf2 subsetting the CJK font) costs about a second of CPU, and a claim
issues two or more; the person is sent the check code, not the file, so nothing on the case's
path needs the PDF. The snapshot fixes the content at decision time (the wording, the agency, the
parameters of the issuing day are in it; nothing is re-read), and rendering is deterministic (the
creation date is the issuing time), so the hash is the same whenever and wherever it is made."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import datetime

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from core import documents
from core.notice_pdf import NoticeLayout, find_font, render
from core.settings import Settings
from models.tables import Notice


def layout_json(layout: NoticeLayout) -> bytes:
    """The layout as canonical JSON: the same layout gives the same bytes (and storage key)."""
    d = dataclasses.asdict(layout)
    d["issued_at"] = layout.issued_at.isoformat()
    return json.dumps(d, ensure_ascii=False, sort_keys=True).encode()


def layout_from_json(data: bytes) -> NoticeLayout:
    d = json.loads(data)
    d["issued_at"] = datetime.fromisoformat(d["issued_at"])
    d["rows"] = [(a, b) for a, b in d["rows"]]
    return NoticeLayout(**d)


def _layout_digest(key: str) -> str:
    """The document store's key ends with the content's SHA-256 (``core.documents.store``)."""
    return key.rsplit("/", 1)[-1]


async def rendered(session: AsyncSession, settings: Settings, n: Notice) -> Notice:
    """The notice with its PDF: rendered now from the layout recorded when the case decided, if
    this is its first download or verification, and stored with its SHA-256. The layout is a
    snapshot (nothing is re-read), and rendering is deterministic, so two first requests at once
    render the same bytes and write the same hash."""
    if n.sha256 is not None and n.storage_key is not None:
        return n
    if n.layout_key is None:
        raise ValueError(f"notice {n.id} has neither a PDF nor a layout")
    root = settings.effective_documents_dir
    raw = await asyncio.to_thread(documents.load, root, n.layout_key, _layout_digest(n.layout_key))
    layout = layout_from_json(raw)
    data = await asyncio.to_thread(lambda: render(layout, find_font(settings.notice_font)))
    digest, key = await asyncio.to_thread(documents.store, root, data)
    await session.execute(
        update(Notice)
        .where(col(Notice.id) == n.id, col(Notice.sha256).is_(None))
        .values(sha256=digest, size=len(data), storage_key=key)
    )
    await session.commit()
    row = await session.get(Notice, n.id, populate_existing=True)
    assert row is not None
    return row
