"""The one table from a workflow refusal to an HTTP status (api/temporal_ops.py): the reason after
the last dot decides, whichever case type refused; the code is passed through unchanged. "Already
decided / closed" is refused by the review kit's desk itself as ``case.decided`` on every type (as
the API's answer for a finished case is), so no code is rewritten here."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError

from api.temporal_ops import GENERIC_REFUSAL_CODE, refusal_error

TABLE = {
    403: ("role", "region", "own_case", "intake", "separation", "kind"),
    409: ("wrong_level", "wrong_round", "stale", "busy", "closed", "decided", "stage", "conflict"),
    422: ("reason_required", "note_required", "invalid"),
    404: ("not_found",),
}


@pytest.mark.parametrize("status,reason", [(s, r) for s, rs in TABLE.items() for r in rs])
@pytest.mark.parametrize("area", ["review", "claim", "period", "dispute.level"])
def test_same_reason_same_status_and_code_passed_through(area: str, status: int, reason: str) -> None:
    code = f"{area}.{reason}"
    err = refusal_error(ApplicationError("不接受", type=code, non_retryable=True))
    assert (err.status_code, err.code, err.message_zh) == (status, code, "不接受")


def test_the_desks_decided_code_is_409_and_passed_through() -> None:
    err = refusal_error(ApplicationError("该申领已办结，不能再作决定", type="case.decided"))
    assert (err.status_code, err.code) == (409, "case.decided")


def test_unknown_reason_is_409_and_a_bare_exception_type_gets_the_generic_code() -> None:
    unknown = refusal_error(ApplicationError("不行", type="review.cannot_send_back"))
    assert (unknown.status_code, unknown.code) == (409, "review.cannot_send_back")
    bare = refusal_error(ApplicationError("只有审核员可以作出审核决定", type="ValueError"))
    assert (bare.status_code, bare.code, bare.message_zh) == (
        409,
        GENERIC_REFUSAL_CODE,
        "只有审核员可以作出审核决定",
    )
    assert refusal_error(None).status_code == 409
