"""``uiflow import periods FILE``: people already receiving in the legacy system (issue 14).

The whole file is checked first (docs/import.md: the columns, the checks); every bad row is
printed with its line and reason on stderr and the command exits 1 having started nothing. A clean
file starts one benefit period per person at the month after the last one the legacy system paid,
with a progress bar; run again, it starts nothing new (``core/period_import.py``)."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import select

app = typer.Typer(
    name="import",
    help="导入：原系统正在领取失业保险金的人员，校验全部行后按月续发。",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _group() -> None:
    """导入原系统数据。"""


@app.command("periods")
def periods_cmd(
    file: Annotated[Path, typer.Argument(help="CSV 文件（UTF-8，含表头；列见 docs/import.md）")],
    by: Annotated[str, typer.Option("--by", help="执行导入的运维人员登录名（写入审计日志）")],
    check_only: Annotated[bool, typer.Option("--check-only", help="只校验，不启动")] = False,
) -> None:
    """校验文件中每一行；全部无误后为每人启动按月发放案件（重复执行不会重复启动）。"""
    from core.db import Database
    from core.parameters import parameters_in_force
    from core.period_import import check_conflicts, plan_import, start_periods
    from core.settings import get_settings
    from core.temporal_client import connect_client
    from models.case import BUSINESS_TZ
    from models.tables import Staff

    if not file.is_file():
        typer.echo(f"错误：找不到文件 {file}", err=True)
        raise typer.Exit(2)
    settings = get_settings()
    params = parameters_in_force(settings.params_dir)
    t0 = time.monotonic()
    today = datetime.now(BUSINESS_TZ).date()
    plan = plan_import(file.read_bytes(), settings=settings, params=params, today=today)

    async def go() -> dict[str, object]:
        db = Database(settings.effective_database_url)
        try:
            async with db.session() as s:
                staff = (await s.exec(select(Staff).where(Staff.login == by))).first()
            if staff is None or not staff.active or "ops_engineer" not in staff.roles:
                typer.echo(f"错误：{by} 不是在职的运维人员账号", err=True)
                raise typer.Exit(2)
            if not plan.errors:
                await check_conflicts(db, plan)
            if plan.errors:
                for e in plan.errors:
                    typer.echo(f"第{e.line}行：{e.reason_zh}", err=True)
                typer.echo(
                    f"错误：{len(plan.errors)}行有误（共{plan.rows}行），未启动任何案件；请更正后重新导入",
                    err=True,
                )
                raise typer.Exit(1)
            if check_only:
                return {"rows": plan.rows, "valid": len(plan.periods), "started": 0}
            client = await connect_client(settings)
            with typer.progressbar(length=len(plan.periods), label="启动发放案件", file=None) as bar:
                res = await start_periods(client, db, settings, plan, by=by, progress=bar.update)
            return {"rows": plan.rows, "started": res.started, "already": res.already}
        finally:
            await db.dispose()

    out = asyncio.run(go())
    out["seconds"] = round(time.monotonic() - t0, 1)
    typer.echo(json.dumps(out, ensure_ascii=False))
