"""The desk's own checks, outside a workflow (they read and change no workflow state): the one
``case.decided`` refusal of a decided or closed case, and the busy state a staff operation holds
while its handler runs its own steps (the benefit period's operations use it instead of a counter
of their own)."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError

from workflows.review_levels import DECIDED_CODE, DecisionDesk


def _desk(area: str = "review") -> DecisionDesk[None]:
    return DecisionDesk(
        case_noun_zh="发放案件",
        case_region="150102",
        applicant_key="k",
        authority=lambda region, _level: [region],
        area=area,
    )


def _refusal(fn: object) -> ApplicationError:
    with pytest.raises(ApplicationError) as e:
        fn()  # type: ignore[operator]
    return e.value


def test_decided_and_closed_are_one_code_with_a_chinese_message() -> None:
    desk = _desk()
    desk.check_undecided(decided=False, closed=False)
    closed = _refusal(lambda: desk.check_undecided(closed=True))
    decided = _refusal(lambda: desk.check_undecided(decided=True, status_zh="已核准"))
    assert closed.type == decided.type == DECIDED_CODE == "case.decided"
    assert closed.message == "该发放案件已办结，不能再作决定"
    assert decided.message == "该发放案件已作出决定（已核准），不能再作决定"


def test_an_operation_holding_the_desk_makes_it_busy_under_its_area_until_it_ends() -> None:
    desk = _desk(area="period")
    desk.check_free()
    with desk.occupied():
        assert desk.busy
        assert _refusal(desk.check_free).type == "period.busy"
        with desk.occupied():  # a second operation accepted in the same task
            pass
        assert desk.busy
    assert not desk.busy
    with pytest.raises(RuntimeError), desk.occupied():
        raise RuntimeError("the operation's step failed")
    assert not desk.busy  # a failed operation frees the desk too
    desk.check_free()
