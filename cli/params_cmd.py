"""``uiflow params ...``: the dated rule parameters an operator must confirm (issue 14).

``list`` shows every value marked UNCONFIRMED in the parameters in force (packaged plus
``UIFLOW_PARAMS_DIR``) and whether an operator has confirmed it. ``confirm`` records a confirmation
(``parameter_confirmation`` and the audit chain, with the operator's login and what the value was
checked against), then starts today's pay-day run of every region with months waiting, so they are
paid without waiting for next month. Prod mode pays nothing that uses an unconfirmed value until
then; dev and test mode pay with the packaged values (see docs/operators.md)."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import date, datetime
from typing import Annotated, Any

import typer
from sqlmodel import col, select

app = typer.Typer(
    name="params",
    help="规则参数确认：列出未确认的参数取值，运维人员核实后确认（确认前生产环境不据此发放）。",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _fail(message: str) -> None:
    typer.echo("错误：" + " ".join(message.split()), err=True)
    raise typer.Exit(2)


@app.command("list")
def list_cmd() -> None:
    """列出标注为“未确认”的参数取值及其确认情况（JSON，每行一项）。"""
    from core.db import Database
    from core.param_confirmation import confirmations, value_text
    from core.parameters import parameters_in_force
    from core.settings import get_settings

    settings = get_settings()
    params = parameters_in_force(settings.params_dir)

    async def go() -> None:
        db = Database(settings.effective_database_url)
        try:
            async with db.session() as s:
                done = await confirmations(s)
        finally:
            await db.dispose()
        for name in params.names():
            for e in params.history(name):
                if e.confirmed:
                    continue
                row: dict[str, Any] = {
                    "name": name,
                    "effective_from": e.effective_from.isoformat(),
                    "value": e.as_dict()["value"],
                    "source": e.source,
                    "operator_confirmed": (name, e.effective_from, value_text(e)) in done,
                }
                typer.echo(json.dumps(row, ensure_ascii=False))

    asyncio.run(go())


@app.command("confirm")
def confirm_cmd(
    name: Annotated[str, typer.Argument(help="参数名，如 minimum_wage.category1_monthly")],
    effective_from: Annotated[str, typer.Option("--effective-from", help="取值生效日期 YYYY-MM-DD")],
    by: Annotated[str, typer.Option("--by", help="确认人（运维人员登录名）")],
    source: Annotated[str, typer.Option("--source", help="核实依据（文件名称、文号）")],
) -> None:
    """确认一个未确认的参数取值（写入审计日志），并启动今日有待发放月份的地区的发放。"""
    from core.db import Database
    from core.param_confirmation import confirm
    from core.parameters import parameters_in_force
    from core.settings import get_settings
    from models.case import BUSINESS_TZ
    from models.tables import PaymentSchedule, Staff
    from policy.errors import PolicyError

    if not _DATE_RE.match(effective_from.strip()):
        _fail(f"--effective-from 日期格式应为YYYY-MM-DD：{effective_from}")
    try:
        since = date.fromisoformat(effective_from.strip())
    except ValueError:
        _fail(f"--effective-from 不是存在的日期：{effective_from}")
    if len(source.strip()) < 4:
        _fail("--source 请写明核实依据（文件名称或文号）")
    settings = get_settings()
    params = parameters_in_force(settings.params_dir)

    async def go() -> list[str]:
        db = Database(settings.effective_database_url)
        try:
            async with db.session() as s:
                staff = (await s.exec(select(Staff).where(Staff.login == by))).first()
                if staff is None or not staff.active or "ops_engineer" not in staff.roles:
                    _fail(f"{by} 不是在职的运维人员账号")
                try:
                    await confirm(s, params, name, since, by=by, source=source.strip())
                except PolicyError as e:
                    _fail(e.message_zh)
                await s.commit()
                today = datetime.now(BUSINESS_TZ).date()
                regions = (
                    await s.exec(
                        select(PaymentSchedule.region_code)
                        .where(PaymentSchedule.state == "scheduled", col(PaymentSchedule.due_date) <= today)
                        .distinct()
                    )
                ).all()
        finally:
            await db.dispose()
        return sorted(regions)

    regions = asyncio.run(go())
    typer.echo(
        json.dumps({"confirmed": name, "effective_from": since.isoformat(), "by": by}, ensure_ascii=False)
    )
    if regions:
        started = asyncio.run(_start_paydays(regions))
        typer.echo(json.dumps({"paydays_started": started}, ensure_ascii=False))
    from activities.payments import BASIC_STANDARD, SUPPLEMENTARY_STANDARD

    if name in (BASIC_STANDARD, SUPPLEMENTARY_STANDARD):
        # Months held for this standard are paid on the person's behalf now (issue 15), by the same
        # backfill an operator starts when a missing standard is entered.
        run = asyncio.run(_start_standard_backfill())
        typer.echo(json.dumps({"premium_backfill_started": run}, ensure_ascii=False))


async def _start_standard_backfill() -> str:
    """The run ``POST /api/v1/premium-refunds/standard-entered`` starts, under its id prefix."""
    import uuid

    from core.settings import get_settings
    from core.temporal_client import connect_client
    from models.case import BUSINESS_TZ
    from models.premium_refund import MISSING_STANDARD_PREFIX, MissingStandardRequest
    from workflows.premium_refund import MissingStandardWorkflow

    settings = get_settings()
    client = await connect_client(settings)
    today = datetime.now(BUSINESS_TZ).date()
    run_id = f"{MISSING_STANDARD_PREFIX}{today.isoformat()}-{uuid.uuid4().hex[:6]}"
    await client.start_workflow(
        MissingStandardWorkflow.run,
        MissingStandardRequest(as_of=today),
        id=run_id,
        task_queue=settings.task_queue,
    )
    return run_id


async def _start_paydays(regions: list[str]) -> list[str]:
    """Today's run of each region with months waiting (the run pays every row due by it)."""
    from activities.payday import actual_pay_date, start_payday
    from core.settings import get_settings
    from core.temporal_client import connect_client
    from models.case import BUSINESS_TZ

    settings = get_settings()
    client = await connect_client(settings)
    day = actual_pay_date(settings, datetime.now(BUSINESS_TZ).date())
    out = []
    for region in regions:
        pid = await start_payday(settings, region, day, task_queue=settings.task_queue, client=client)
        if pid:
            out.append(pid)
    return out
