"""Issue 12 item 12: a document belongs to one case; a claim cannot take over another case's."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from temporalio.exceptions import ApplicationError

from activities.claim import ClaimActivities, LinkDocuments
from activities.gov import GovClients
from core.db import Database
from core.settings import Settings
from models.claim import DocumentRef
from models.tables import Document


async def _stored_document(db: Database, case_id: str | None) -> Document:
    doc = Document(
        id=str(uuid.uuid4()),
        case_id=case_id,
        kind="解除劳动合同证明",
        filename="a.pdf",
        content_type="application/pdf",
        sha256="ab" * 32,
        size=3,
        uploaded_by="clerk.xc",
        uploaded_at=datetime.now(UTC),
        storage_key="ab/" + "ab" * 32,
    )
    async with db.session() as s:
        s.add(doc)
        await s.commit()
    return doc


async def test_link_documents_refuses_a_document_of_another_case(
    settings: Settings, sqlite_db: Database
) -> None:
    acts = ClaimActivities(settings, sqlite_db, GovClients.from_settings(settings))
    doc = await _stored_document(sqlite_db, "claim-150102-owner-1")
    ref = DocumentRef(id=doc.id, sha256=doc.sha256, kind=doc.kind)
    with pytest.raises(ApplicationError) as err:
        await acts.link_documents(LinkDocuments(case_id="claim-150202-thief-1", documents=[ref]))
    assert err.value.type == "document.other_case" and err.value.non_retryable
    assert "其他案件" in err.value.message
    async with sqlite_db.session() as s:
        row = await s.get(Document, doc.id)
        assert row is not None and row.case_id == "claim-150102-owner-1"


async def test_link_documents_attaches_free_and_own_documents(
    settings: Settings, sqlite_db: Database
) -> None:
    acts = ClaimActivities(settings, sqlite_db, GovClients.from_settings(settings))
    free = await _stored_document(sqlite_db, None)
    own = await _stored_document(sqlite_db, "claim-150102-me-1")
    refs = [DocumentRef(id=d.id, sha256=d.sha256, kind=d.kind) for d in (free, own)]
    assert await acts.link_documents(LinkDocuments(case_id="claim-150102-me-1", documents=refs)) == 2
    async with sqlite_db.session() as s:
        for d in (free, own):
            row = await s.get(Document, d.id)
            assert row is not None and row.case_id == "claim-150102-me-1"
