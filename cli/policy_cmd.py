"""``uiflow policy ...``: the rule calculators for staff (issue 3, item 9).

Each command prints one JSON object on stdout and exits 0. Bad input exits 2 with a one-line
message on stderr and no traceback. Amounts are decimal strings. The same functions back the
API (``api/routes/policy.py``), so a calculator never disagrees with a workflow decision.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from models.case import BUSINESS_TZ
from models.rules import RetirementCategory, YearMonth
from policy import calendar as cal
from policy.entitlement import benefit_amount, max_benefit_months
from policy.identity import IdentityError, parse_resident_id
from policy.money import format_amount, parse_amount
from policy.near_retirement import near_retirement
from policy.refund import premium_refund
from policy.retirement import min_contribution_months, retirement

app = typer.Typer(
    name="policy",
    help="规则计算器：退休年龄、审核期限、工作日、领金期限与金额、医保费返还、身份证号校验。",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

T = TypeVar("T")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class YesNo(StrEnum):
    YES = "yes"
    NO = "no"


def _emit(obj: dict[str, Any]) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False))


def _fail(message: str) -> NoReturn:
    typer.echo("错误：" + " ".join(message.split()), err=True)
    raise typer.Exit(2)


def _guard(fn: Callable[[], T]) -> T:
    """Run a rule; turn a refusal (PolicyError, InvalidYearMonth: ValueErrors with ``message_zh``)
    into exit 2 with its Chinese message on one line."""
    try:
        return fn()
    except ValueError as e:
        _fail(str(getattr(e, "message_zh", None) or e))


def _date(text: str, option: str) -> date:
    """Strict ``YYYY-MM-DD`` (``date.fromisoformat`` alone would also take ``20250120``)."""
    if _DATE_RE.match(text.strip()):
        try:
            return date.fromisoformat(text.strip())
        except ValueError:
            pass
    _fail(f"{option} 日期格式应为YYYY-MM-DD，且须为存在的日期：{text}")


def _ym(text: str) -> YearMonth:
    return _guard(lambda: YearMonth.parse(text))


@app.command("retirement-age")
def retirement_age_cmd(
    category: Annotated[RetirementCategory, typer.Option("--category", help="male、female-55 或 female-50")],
    birth: Annotated[str, typer.Option("--birth", help="出生年月 YYYY-MM")],
) -> None:
    """法定退休年龄（渐进式延迟退休）。"""
    r = _guard(lambda: retirement(category, _ym(birth)))
    _emit(
        {
            "delay_months": r.delay_months,
            "age_years": r.age_years,
            "age_months": r.age_months,
            "retirement_month": str(r.retirement_month),
            "original_retirement_month": str(r.original_retirement_month),
        }
    )


@app.command("review-deadline")
def review_deadline_cmd(
    received: Annotated[str, typer.Option("--received", help="收到申请日期 YYYY-MM-DD")],
    working_days: Annotated[int | None, typer.Option("--working-days", help="工作日天数，默认取参数")] = None,
) -> None:
    """失业保险金审核期限：收件之日起第N个工作日（默认10个，收件当日不计）。"""
    d = _date(received, "--received")
    rec = _guard(lambda: cal.review_deadline_record(d, working_days))
    _emit({"received": d.isoformat(), "deadline": rec.deadline.isoformat(), "working_days": rec.working_days})


@app.command("working-days")
def working_days_cmd(
    start: Annotated[str, typer.Option("--start", help="开始日期 YYYY-MM-DD（含）")],
    end: Annotated[str, typer.Option("--end", help="结束日期 YYYY-MM-DD（含）")],
) -> None:
    """两个日期之间（含首尾）的工作日天数。"""
    s, e = _date(start, "--start"), _date(end, "--end")
    _emit({"count": _guard(lambda: cal.working_days_between(s, e))})


@app.command("entitlement")
def entitlement_cmd(
    contribution_months: Annotated[int, typer.Option("--contribution-months", help="累计缴费月数")],
    unused_months: Annotated[int, typer.Option("--unused-months", help="前次应领未领月数")] = 0,
) -> None:
    """最长领取失业保险金月数（含前次未领月数合并，最长24个月）。"""
    ent = _guard(lambda: max_benefit_months(contribution_months, unused_months))
    _emit(
        {
            "eligible": ent.eligible,
            "max_months": ent.max_months,
            "reason": ent.reason.code if ent.reason else None,
        }
    )


@app.command("benefit-amount")
def benefit_amount_cmd(
    month_index: Annotated[int, typer.Option("--month-index", help="领金第几个月（从1开始）")],
    pay_month: Annotated[str, typer.Option("--pay-month", help="发放月份 YYYY-MM")],
) -> None:
    """某月失业保险金金额：一类地区月最低工资标准 × 95%（第1–12个月）或 85%（第13个月起）。"""
    b = _guard(lambda: benefit_amount(month_index, _ym(pay_month)))
    _emit({"amount": format_amount(b.amount), "rate": format_amount(b.rate), "base": format_amount(b.base)})


@app.command("min-contribution")
def min_contribution_cmd(
    retirement_year: Annotated[int, typer.Option("--retirement-year", help="达到法定退休年龄的年份")],
) -> None:
    """按月领取基本养老金的最低缴费月数。"""
    _emit({"months": _guard(lambda: min_contribution_months(retirement_year))})


@app.command("refund")
def refund_cmd(
    paid: Annotated[str, typer.Option("--paid", help="个人实际缴纳金额")],
    standard: Annotated[str, typer.Option("--standard", help="当地代缴标准")],
) -> None:
    """医保费返还：按月取个人实际缴纳与当地代缴标准中的较小者。"""
    p = _guard(lambda: parse_amount(paid, field="个人实际缴纳金额"))
    s = _guard(lambda: parse_amount(standard, field="当地代缴标准"))
    _emit({"refund": format_amount(premium_refund(p, s))})


@app.command("near-retirement")
def near_retirement_cmd(
    category: Annotated[RetirementCategory, typer.Option("--category", help="male、female-55 或 female-50")],
    birth: Annotated[str, typer.Option("--birth", help="出生年月 YYYY-MM")],
    expiry: Annotated[str, typer.Option("--expiry", help="领金期满月份 YYYY-MM（含核定续发）")],
    receiving: Annotated[
        YesNo, typer.Option("--receiving-on-2024-12-31", help="2024年12月31日是否正在领取失业保险金")
    ],
) -> None:
    """临近退休的续发与过渡政策：发放至哪个月。"""
    b, e = _ym(birth), _ym(expiry)
    nr = _guard(lambda: near_retirement(category, b, e, receiving is YesNo.YES))
    _emit({"outcome": nr.outcome.value, "pay_through": str(nr.pay_through) if nr.pay_through else None})


@app.command("check-id")
def check_id_cmd(number: Annotated[str, typer.Argument(help="18位公民身份号码")]) -> None:
    """校验公民身份号码（校验位、出生日期、地区码）。"""
    try:
        rid = parse_resident_id(number, today=datetime.now(BUSINESS_TZ).date())
    except IdentityError as e:
        _emit({"valid": False, "error": e.code, "message": e.message_zh})
        return
    _emit({"valid": True, "birth": rid.birth.isoformat(), "sex": rid.sex, "region": rid.region})


def main(argv: list[str] | None = None) -> int:
    """Entry point with one-line usage errors: typer's multi-line usage text (missing option, bad
    choice, non-integer) is reduced to its message on one line, still with exit code 2."""
    try:
        rc = app(args=argv, prog_name="uiflow policy", standalone_mode=False)
    except typer.TyperException as e:
        if argv == [] or (argv is None and len(sys.argv) == 1):
            typer.echo(e.format_message(), err=True)  # no arguments: the help text
        else:
            typer.echo("错误：命令用法不正确：" + " ".join(e.format_message().split()), err=True)
        return int(getattr(e, "exit_code", 2) or 2)
    except typer.Abort:
        return 1
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":
    from core.process import run_and_exit

    run_and_exit(lambda: sys.exit(main()))
