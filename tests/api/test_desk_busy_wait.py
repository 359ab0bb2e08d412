"""The API's wait for a case that is still applying the decision before (issue 19).

A decision is answered when accepted and applied just after, so the next level's decision can
arrive while the case is still busy with the last one. The API sends it again for a few seconds
instead of answering 409 at once; a case busy for longer still answers ``review.busy``. The real
path (levels decided back to back through the API) is in ``test_disputes_api.py``."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from api import temporal_ops
from api.errors import ApiError
from api.temporal_ops import _while_desk_busy, refusal_error


def _refused(code: str) -> WorkflowUpdateFailedError:
    return WorkflowUpdateFailedError(ApplicationError("该案件正在处理另一项决定", type=code))


async def test_a_decision_sent_while_the_case_applies_the_last_one_is_taken_when_it_is_free() -> None:
    calls: list[int] = []

    async def send() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise _refused("review.busy")
        return "receipt"

    assert await _while_desk_busy(send) == "receipt"
    assert len(calls) == 3


async def test_any_other_refusal_answers_at_once() -> None:
    calls: list[int] = []

    async def send() -> str:
        calls.append(1)
        raise _refused("review.wrong_level")

    with pytest.raises(WorkflowUpdateFailedError):
        await _while_desk_busy(send)
    assert len(calls) == 1


async def test_a_case_busy_for_longer_still_answers_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(temporal_ops, "DESK_WAIT_S", 0.1)
    calls: list[int] = []

    async def send() -> str:
        calls.append(1)
        raise _refused("period.busy")

    with pytest.raises(WorkflowUpdateFailedError) as e:
        await _while_desk_busy(send)
    assert 2 <= len(calls) <= 6
    err = refusal_error(e.value.cause)
    assert isinstance(err, ApiError) and (err.status_code, err.code) == (409, "period.busy")
