"""Form helpers shared by the intake and decision pages: documents attached to a form, and
validation errors turned into the same Chinese per-field messages the API returns."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from api.console.web import redirect
from api.errors import ApiError, _field_message  # the API's own wording, so page and API never disagree
from models.claim import DocumentRef

INVALID = "提交的内容有误，请按提示修改"

#: Shows the case page again: (the submitted values, the message, per-field errors, the status).
ShowPage = Callable[[dict[str, Any], str, dict[str, str], int], Awaitable[Response]]

#: Document kinds offered at the counter, with their labels. The dispute kinds are added when the
#: dispute model is present (see ``doc_kinds``).
CLAIM_DOC_KINDS: dict[str, str] = {
    "termination_certificate": "解除（终止）劳动合同证明",
    "termination_agreement": "解除（终止）劳动合同协议",
    "id_card": "居民身份证",
    "bank_card": "银行卡（折）",
    "other": "其他材料",
}


#: Kinds a counter upload accepts beyond those offered on the claim form: each is offered only on
#: its own intake page (the refund's receipts, the subsidy's job-fit statement).
UPLOAD_ONLY_KINDS: dict[str, str] = {
    "premium_receipt": "医保缴费凭证（票据）",
    "job_fit_statement": "证岗相适材料（用人单位盖章）",
}


def upload_kinds() -> dict[str, str]:
    """Every kind the console's upload accepts, with its label for the uploaded file's chip."""
    return doc_kinds() | UPLOAD_ONLY_KINDS


def doc_kinds() -> dict[str, str]:
    kinds = dict(CLAIM_DOC_KINDS)
    from models.dispute import DOCUMENT_KIND_LABELS

    for k, v in DOCUMENT_KIND_LABELS.items():
        kinds.setdefault(k, v)
    return kinds


def field_errors(e: ValidationError) -> dict[str, str]:
    """``{"phone": "手机号码应为11位数字，以1开头", ...}``: first message per field."""
    fields: dict[str, str] = {}
    for err in e.errors():
        loc = ".".join(str(p) for p in err.get("loc", ())) or "form"
        fields.setdefault(loc, _field_message(dict(err)))
    return fields


def text(form: FormData, name: str, limit: int = 2000) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def attached_documents(form: FormData) -> list[dict[str, str]]:
    """The documents uploaded earlier on this page (one hidden group per file), as plain dicts so
    a re-rendered form keeps them."""
    ids, kinds, shas, names = (
        [v for v in form.getlist(k) if isinstance(v, str)]
        for k in ("doc_id", "doc_kind", "doc_sha256", "doc_filename")
    )
    out: list[dict[str, str]] = []
    for i, doc_id in enumerate(ids[:20]):
        out.append(
            {
                "id": doc_id,
                "kind": kinds[i] if i < len(kinds) else "",
                "sha256": shas[i] if i < len(shas) else "",
                "filename": names[i] if i < len(names) else "",
            }
        )
    return out


def document_refs(docs: list[dict[str, Any]]) -> list[DocumentRef]:
    """Raises ``ValidationError`` for a tampered hidden field."""
    return [DocumentRef.model_validate(d) for d in docs]


async def act_or_show(
    request: Request,
    call: Callable[[], Awaitable[Any]],
    show: ShowPage,
    values: dict[str, Any],
    done_url: str | Callable[[], str],
) -> Response:
    """One staff action on a case page, for every case type: run the API's own route function;
    on success go to ``done_url``; on bad input or a refusal (403, 409, 422) show the page again
    with the values kept and the message as the API or the workflow validator worded it. No
    such case, no session and server errors stay errors (the console renders them as pages).
    ``done_url`` may be a function, for a page that exists only after the call (a new case)."""
    try:
        await call()
    except ValidationError as e:
        return await show(values, INVALID, field_errors(e), 422)
    except ApiError as e:
        if e.status_code in (401, 404) or e.status_code >= 500:
            raise
        return await show(values, e.message_zh, e.fields or {}, e.status_code)
    return redirect(request, done_url if isinstance(done_url, str) else done_url())
