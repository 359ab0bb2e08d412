"""Upload and download of case documents (termination agreements, arbitration awards...).

Anyone applying may upload (the signed-in applicant, a clerk at the counter, a signed-in
employer); a file is only readable by staff whose region covers the case it is attached to."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import get_session, get_settings_dep
from api.errors import ApiError
from api.principals import CASE_SCOPE_ATTR, StaffUser, Uploader, in_scope
from core import documents
from core.security import Kind
from core.settings import Settings
from models.tables import CaseRecord, Document

router = APIRouter(prefix="/api/v1/documents", tags=["documents"])


class DocumentOut(BaseModel):
    id: str
    kind: str
    filename: str
    content_type: str
    sha256: str
    size: int


@router.post("", status_code=201, response_model=DocumentOut, summary="上传材料（PDF、JPG、PNG，20MB以内）")
async def upload(
    who: Uploader,
    session: Annotated[AsyncSession, Depends(get_session)],
    settings: Annotated[Settings, Depends(get_settings_dep)],
    kind: Annotated[str, Form(min_length=1, max_length=64, examples=["termination_agreement"])],
    file: Annotated[UploadFile, File()],
) -> DocumentOut:
    content_type = (file.content_type or "").split(";")[0].strip()
    if content_type not in documents.ALLOWED_TYPES:
        raise ApiError(415, "document.type", "只接受 PDF、JPG 或 PNG 文件")
    data = await file.read(documents.MAX_BYTES + 1)
    if len(data) > documents.MAX_BYTES:
        raise ApiError(413, "document.too_large", "文件超过20MB")
    if not data:
        raise ApiError(422, "document.empty", "文件为空")
    digest, key = await asyncio.to_thread(documents.store, settings.effective_documents_dir, data)
    doc = Document(
        id=str(uuid.uuid4()),
        kind=kind,
        filename=(file.filename or "document")[:255],
        content_type=content_type,
        sha256=digest,
        size=len(data),
        uploaded_by=who.subject[:64] if who.kind is Kind.STAFF else who.kind.value,
        uploaded_at=datetime.now(UTC),
        storage_key=key,
    )
    session.add(doc)
    await session.commit()
    return DocumentOut(
        id=doc.id,
        kind=doc.kind,
        filename=doc.filename,
        content_type=doc.content_type,
        sha256=doc.sha256,
        size=doc.size,
    )


async def _document_in_scope(
    request: Request,
    doc_id: str,
    _staff: StaffUser,
    session: Annotated[AsyncSession, Depends(get_session)],
) -> Document:
    """The document, when it is attached to a case in the caller's scope; 404 otherwise."""
    doc = await session.get(Document, doc_id)
    case = await session.get(CaseRecord, doc.case_id) if doc is not None and doc.case_id else None
    if doc is None or case is None or not in_scope(request.state.principal, case):
        raise ApiError(404, "document.not_found", "未找到该材料")
    return doc


setattr(_document_in_scope, CASE_SCOPE_ATTR, True)
DocumentInScope = Annotated[Document, Depends(_document_in_scope)]


@router.get("/{doc_id}", summary="下载材料（仅限管辖地区内的工作人员）")
async def download(
    doc: DocumentInScope,
    settings: Annotated[Settings, Depends(get_settings_dep)],
) -> Response:
    try:
        data = await asyncio.to_thread(
            documents.load, settings.effective_documents_dir, doc.storage_key, doc.sha256
        )
    except (OSError, ValueError) as e:
        raise ApiError(500, "document.damaged", "材料文件缺失或已被改动，请联系运维人员") from e
    return Response(
        data,
        media_type=doc.content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{doc.id}",
            "X-Content-SHA256": doc.sha256,
        },
    )
