"""Official notices of a case: the list and the PDF for staff in scope and for the person the case
is about, and the public verify page whose address and check code are printed on each notice (and
in its QR).

Why the verify page is public: a bank, an employer or a court clerk holding the paper must be able
to check it without an account. It answers only for a valid check code (80 unguessable bits) and
shows what the paper already shows (title, number, case number, agency, date) plus the SHA-256 of
the original, and offers the original itself, so the holder can compare; never a name or an ID
number outside that original, and nothing about other notices of the case."""

from __future__ import annotations

import asyncio
import html
import re
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import get_session, get_settings_dep
from api.errors import ApiError
from api.principals import AnyCaseForApplicant, AnyCaseForStaff, public
from core import documents, notice_store
from core.notice_pdf import FontMissing
from core.settings import Settings
from models.case import BUSINESS_TZ
from models.notice import CHECK_CODE_PATTERN, VERIFY_PATH, NoticeKind
from models.tables import CaseRecord, Notice

router = APIRouter(tags=["notices"])

_CODE = re.compile(CHECK_CODE_PATTERN)


class NoticeOut(BaseModel):
    id: str = Field(examples=["3f9a1c0d2b7e4f55a6c8d9e0f1a2b3c4"])
    kind: str = Field(examples=["claim_not_approved"])
    title: str = Field(examples=["失业保险金申领不予核准决定书"])
    notice_no: str = Field(examples=["150102-20261130-3F9A1C"])
    check_code: str = Field(examples=["ABCD-EFGH-IJKL-MNOP"])
    # Empty until the notice's first download or verification makes its PDF (core/notice_store.py).
    sha256: str | None = Field(examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"])
    size: int | None
    issued_at: datetime


class VerifiedNotice(BaseModel):
    """What the verify page states: only what is printed on the paper, and the original's hash."""

    valid: bool = True
    title: str
    notice_no: str
    case_id: str
    agency_region: str
    issued_on: str
    sha256: str


def _out(n: Notice) -> NoticeOut:
    return NoticeOut(
        id=n.id,
        kind=n.kind,
        title=n.title,
        notice_no=n.notice_no,
        check_code=n.check_code,
        sha256=n.sha256,
        size=n.size,
        issued_at=n.issued_at,
    )


async def notices_of(session: AsyncSession, case_id: str) -> list[Notice]:
    rows = await session.exec(
        select(Notice).where(Notice.case_id == case_id).order_by(col(Notice.issued_at), col(Notice.id))
    )
    return list(rows.all())


async def _rendered(session: AsyncSession, settings: Settings, n: Notice) -> Notice:
    """The notice with its PDF made (on its first download or verification, from the snapshot the
    case recorded when it decided)."""
    try:
        return await notice_store.rendered(session, settings, n)
    except (OSError, ValueError) as e:
        raise ApiError(500, "notice.damaged", "文书文件缺失或已被改动，请联系运维人员") from e
    except FontMissing as e:
        raise ApiError(503, "notice.font_missing", "文书暂时无法生成，请稍后再试或联系运维人员") from e


async def _pdf(session: AsyncSession, settings: Settings, n: Notice) -> Response:
    n = await _rendered(session, settings, n)
    assert n.storage_key is not None and n.sha256 is not None
    try:
        data = await asyncio.to_thread(
            documents.load, settings.effective_documents_dir, n.storage_key, n.sha256
        )
    except (OSError, ValueError) as e:
        raise ApiError(500, "notice.damaged", "文书文件缺失或已被改动，请联系运维人员") from e
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{n.notice_no}.pdf",
            "X-Content-SHA256": n.sha256,
        },
    )


async def _notice_of_case(session: AsyncSession, row: CaseRecord, notice_id: str) -> Notice:
    n = await session.get(Notice, notice_id) if len(notice_id) <= 32 else None
    if n is None or n.case_id != row.case_id:
        raise ApiError(404, "notice.not_found", "未找到该文书")
    return n


@router.get("/api/v1/cases/{case_id}/notices", response_model=list[NoticeOut], summary="案件已出具的文书")
async def list_notices(
    row: AnyCaseForStaff, session: Annotated[AsyncSession, Depends(get_session)]
) -> list[NoticeOut]:
    return [_out(n) for n in await notices_of(session, row.case_id)]


@router.get("/api/v1/cases/{case_id}/notices/{notice_id}", summary="下载文书（PDF，管辖地区内的工作人员）")
async def download_notice(
    notice_id: str,
    row: AnyCaseForStaff,
    session: Annotated[AsyncSession, Depends(get_session)],
    settings: Annotated[Settings, Depends(get_settings_dep)],
) -> Response:
    return await _pdf(session, settings, await _notice_of_case(session, row, notice_id))


@router.get(
    "/api/v1/applicant/cases/{case_id}/notices",
    response_model=list[NoticeOut],
    summary="本人案件的文书（申请人）",
)
async def my_notices(
    row: AnyCaseForApplicant, session: Annotated[AsyncSession, Depends(get_session)]
) -> list[NoticeOut]:
    return [_out(n) for n in await notices_of(session, row.case_id)]


@router.get("/api/v1/applicant/cases/{case_id}/notices/{notice_id}", summary="下载本人案件的文书（PDF）")
async def my_notice(
    notice_id: str,
    row: AnyCaseForApplicant,
    session: Annotated[AsyncSession, Depends(get_session)],
    settings: Annotated[Settings, Depends(get_settings_dep)],
) -> Response:
    return await _pdf(session, settings, await _notice_of_case(session, row, notice_id))


async def _by_code(session: AsyncSession, code: str) -> Notice:
    code = code.strip().upper()
    if not _CODE.match(code):
        raise ApiError(422, "notice.code_invalid", "核验码格式不正确（应为16位字母数字，每4位以“-”分隔）")
    n = (await session.exec(select(Notice).where(Notice.check_code == code))).first()
    if n is None:
        raise ApiError(404, "notice.not_found", "核验码无效：未找到与之对应的文书，请核对后重新输入")
    return n


def _verified(n: Notice) -> VerifiedNotice:
    return VerifiedNotice(
        title=n.title,
        notice_no=n.notice_no,
        case_id=n.case_id,
        agency_region=n.region_code,
        issued_on=n.issued_at.astimezone(BUSINESS_TZ).date().isoformat()
        if n.issued_at.tzinfo
        else n.issued_at.date().isoformat(),
        sha256=n.sha256 or "",
    )


_VERIFY_DEP = public("the notice's check code (printed on it, 80 unguessable bits) is the credential")


@router.get(
    "/api/v1/verify/{code}",
    response_model=VerifiedNotice,
    summary="文书核验（凭核验码，公开）",
    dependencies=[_VERIFY_DEP],
)
async def verify_json(
    code: str,
    session: Annotated[AsyncSession, Depends(get_session)],
    settings: Annotated[Settings, Depends(get_settings_dep)],
) -> VerifiedNotice:
    return _verified(await _rendered(session, settings, await _by_code(session, code)))


_PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>文书核验</title>
<style>body{{font-family:"Noto Sans CJK SC",sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}}
dt{{color:#555;margin-top:.6rem}}dd{{margin:0;font-size:1.1rem}}.ok{{color:#176b2c}}.bad{{color:#a3122b}}
code{{word-break:break-all}}</style></head><body><h1>文书核验</h1>{body}</body></html>"""


def _page(body: str, status: int) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(body=body), status_code=status)


@router.get(f"{VERIFY_PATH}/{{code}}", summary="文书核验页（凭核验码，公开）", dependencies=[_VERIFY_DEP])
async def verify_page(
    code: str,
    session: Annotated[AsyncSession, Depends(get_session)],
    settings: Annotated[Settings, Depends(get_settings_dep)],
) -> Response:
    try:
        n = await _rendered(session, settings, await _by_code(session, code))
    except ApiError as err:
        return _page(f'<p class="bad" id="verify-result">{html.escape(err.message_zh)}</p>', err.status_code)
    v = _verified(n)
    e = html.escape
    original = f"{VERIFY_PATH}/{e(n.check_code)}/original"
    body = (
        f'<p class="ok" id="verify-result">核验通过：本文书由经办机构出具，记录如下。</p><dl>'
        f"<dt>文书名称</dt><dd id='v-title'>{e(v.title)}</dd>"
        f"<dt>文书编号</dt><dd id='v-no'>{e(v.notice_no)}</dd>"
        f"<dt>案件编号</dt><dd id='v-case'>{e(v.case_id)}</dd>"
        f"<dt>出具日期</dt><dd id='v-date'>{e(v.issued_on)}</dd>"
        f"<dt>原件SHA-256</dt><dd><code id='v-sha'>{e(v.sha256)}</code></dd></dl>"
        f"<p>请核对手中文书与上述记录一致；也可<a id='v-original' href='{original}'>下载原件</a>"
        "逐字比对。</p>"
    )
    return _page(body, 200)


@router.get(
    f"{VERIFY_PATH}/{{code}}/original",
    summary="下载核验文书原件（凭核验码，公开）",
    dependencies=[_VERIFY_DEP],
)
async def verify_original(
    code: str,
    session: Annotated[AsyncSession, Depends(get_session)],
    settings: Annotated[Settings, Depends(get_settings_dep)],
) -> Response:
    return await _pdf(session, settings, await _by_code(session, code))


__all__ = ["NoticeKind", "notices_of", "router"]
