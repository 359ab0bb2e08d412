"""The ``uiflow`` command: dev, worker, api, sim, migrate, seed, demo, policy, audit, bench, drill."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import typer

from cli.lazy import LazyGroup, lazy_root

# Sub-command groups, each a module exposing a typer ``app``, imported only when called (start-up:
# ``uiflow --help`` and ``uiflow policy …`` must not import Temporal, FastAPI or SQLAlchemy).
# Register a new group here. Commands below import what they need inside their function (asyncio
# too: it alone costs a tenth of the start-up budget).
LAZY_GROUPS = {
    "policy": LazyGroup("cli.policy_cmd", "规则计算器：退休年龄、审核期限、工作日、领金期限与金额等。"),
    "audit": LazyGroup("cli.audit_cmd", "审计：案件时间线、历史归档、完整性校验与历史回放。"),
    "bench": LazyGroup("cli.bench_cmd", "性能基准：每项结果都与同一次运行中测得的 Temporal 引擎下限对照。"),
    "params": LazyGroup("cli.params_cmd", "规则参数确认：未确认的参数取值经运维人员确认后才用于发放。"),
    "import": LazyGroup("cli.import_cmd", "导入：在原系统领取失业保险金的人员（校验后按月续发）。"),
}

app = typer.Typer(
    cls=lazy_root(LAZY_GROUPS),
    help="uiflow：内蒙古失业保险经办系统（Temporal 持久化工作流）",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _logging() -> None:
    logging.basicConfig(
        level=os.environ.get("UIFLOW_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )


@app.command()
def dev(
    no_demo: bool = typer.Option(False, "--no-demo", help="不提交演示案件"),
    config: str = typer.Option("temporal-dev.yaml", help="本地环境配置文件"),
) -> None:
    """启动完整的本地环境：Temporal 开发服务器与 Web UI、数据库迁移、模拟系统、worker、API 与工作台。"""
    from cli.dev import run_dev

    raise typer.Exit(run_dev(config_path=config, demo=not no_demo))


@app.command()
def worker() -> None:
    """运行 worker（连接已有的 Temporal 集群与数据库）。"""
    _logging()
    import asyncio

    from core.settings import get_settings
    from workers.main import run_worker

    asyncio.run(run_worker(get_settings()))


@app.command()
def api(host: str | None = None, port: int | None = None, migrate: bool = False) -> None:
    """运行 API 与工作人员工作台。"""
    _logging()
    import uvicorn

    from api.app import create_app
    from core.settings import get_settings

    settings = get_settings()
    if migrate:
        import asyncio

        asyncio.run(_migrate(seed_demo=False))
    uvicorn.run(
        create_app(settings),
        host=host or settings.api_host,
        port=port or settings.api_port,
        log_level="warning",
    )


@app.command()
def sim(
    host: str = "127.0.0.1",
    port: int = 8100,
    seed: int = 42,
    population: int = 2000,
    callback_url: str | None = None,
    state_dir: Path | None = typer.Option(None, help="状态保存目录（重启后保留；默认仅在内存中）"),
) -> None:
    """运行外部系统模拟服务（仅用于开发与测试）。"""
    _logging()
    from sim.server import run

    run(
        host=host,
        port=port,
        seed=seed,
        population=population,
        callback_url=callback_url,
        state_dir=state_dir,
    )


async def _migrate(*, seed_demo: bool) -> None:
    from core.db import Database
    from core.migrate import upgrade
    from core.seed import seed_demo_staff, seed_regions
    from core.settings import get_settings

    db = Database(get_settings().effective_database_url)
    try:
        await upgrade(db)
        async with db.session() as s:
            await seed_regions(s)
            if seed_demo:
                await seed_demo_staff(s)
    finally:
        await db.dispose()


@app.command()
def migrate(demo_staff: bool = typer.Option(False, help="同时创建演示账号（仅开发环境）")) -> None:
    """执行数据库迁移并写入行政区划参考数据。"""
    import asyncio

    asyncio.run(_migrate(seed_demo=demo_staff))
    typer.echo("数据库已迁移到最新版本")


def _id_number(value: str) -> str:
    from policy.identity import IdentityError, parse_resident_id

    try:
        return parse_resident_id(value).number
    except IdentityError as e:
        raise typer.BadParameter(e.message_zh) from e


@app.command("create-staff")
def create_staff(
    login: str,
    name: str,
    region: str,
    roles: str = typer.Option(..., help="逗号分隔的角色"),
    id_number: str = typer.Option(
        ...,
        prompt="本人身份证号码",
        hide_input=True,
        callback=_id_number,
        help="本人身份证号码（GB 11643 校验；只保存其 HMAC，用于回避本人案件）",
    ),
    password: str = typer.Option(..., prompt=True, hide_input=True),
) -> None:
    """创建工作人员账号。"""
    from core.applicant import applicant_key
    from core.db import Database
    from core.seed import upsert_staff
    from core.settings import get_settings
    from models.enums import Role
    from policy.regions import get_region

    get_region(region)
    role_list = [Role(r.strip()) for r in roles.split(",") if r.strip()]
    settings = get_settings()
    key = applicant_key(settings, id_number)

    async def _go() -> None:
        db = Database(settings.effective_database_url)
        async with db.session() as s:
            await upsert_staff(s, login, name, role_list, region, password, applicant_key=key)
        await db.dispose()

    import asyncio

    asyncio.run(_go())
    typer.echo(f"已创建账号 {login}")


@app.command()
def drill(
    claims: int = typer.Option(1000, help="申领数量"),
    concurrency: int = typer.Option(48, help="同时办理中的申领数"),
    sqlite: bool = typer.Option(
        False, "--sqlite", help="案件数据库用 SQLite 文件（默认新建 PostgreSQL 数据库）"
    ),
    worker_kill_every: float = typer.Option(20.0, help="每隔多少秒强制终止一个 worker（0：不终止）"),
    worker_kills: int | None = typer.Option(None, help="最多终止 worker 的次数（默认直到申领办完）"),
    api_kill_at: float | None = typer.Option(60.0, help="第几秒强制终止一个 API 进程"),
    api_down: float = typer.Option(10.0, help="API 进程停机秒数"),
    temporal_restart_at: float | None = typer.Option(120.0, help="第几秒重启 Temporal 开发服务器"),
    no_temporal_restart: bool = typer.Option(False, "--no-temporal-restart", help="不重启开发服务器"),
    worker_kill_at_share: float | None = typer.Option(
        None, help="办完多大比例的申领时终止一次 worker（0–1，代替按秒终止）"
    ),
    api_kill_at_share: float | None = typer.Option(None, help="办完多大比例的申领时终止一个 API 进程（0–1）"),
    temporal_restart_at_share: float | None = typer.Option(
        None, help="办完多大比例的申领时重启开发服务器（0–1）"
    ),
    outage_at: float | None = typer.Option(30.0, help="第几秒让失业登记平台停机"),
    outage: float = typer.Option(300.0, help="失业登记平台停机秒数"),
    bank_error_rate: float = typer.Option(0.2, help="银行调用出错的比例"),
    bank_timeout_rate: float = typer.Option(0.1, help="银行调用超时的比例"),
    json_path: Path | None = typer.Option(None, "--json", help="把完整结果写入该 JSON 文件"),
    keep: bool = typer.Option(False, "--keep", help="保留临时目录与数据库（用于排查）"),
) -> None:
    """故障演练：两个 worker 与两个 API 进程，边办理申领边终止进程、重启服务器、注入故障，然后核对。"""
    from cli.drill.report import print_summary, write_json
    from cli.drill.run import DrillOptions, run_drill

    opts = DrillOptions(
        claims=claims,
        concurrency=concurrency,
        sqlite=sqlite,
        worker_kill_every_s=worker_kill_every,
        worker_kills_max=worker_kills,
        api_kill_at_s=api_kill_at,
        api_down_s=api_down,
        temporal_restart_at_s=None if no_temporal_restart else temporal_restart_at,
        worker_kill_at_share=worker_kill_at_share,
        api_kill_at_share=api_kill_at_share,
        temporal_restart_at_share=None if no_temporal_restart else temporal_restart_at_share,
        outage_at_s=outage_at,
        outage_s=outage,
        bank_error_rate=bank_error_rate,
        bank_timeout_rate=bank_timeout_rate,
        keep=keep,
    )
    import asyncio

    out = asyncio.run(run_drill(opts, note=lambda s: typer.echo(s, err=True)))
    if json_path is not None:
        write_json(out, json_path)
    print_summary(out)
    raise typer.Exit(0 if out["ok"] else 1)


def main() -> None:
    """The ``uiflow`` console script. Every command (worker, api, dev, sim, bench, audit, policy)
    ends through ``run_and_exit``: flushed, then ``os._exit`` with the command's code, so the
    Temporal runtime's threads cannot abort the interpreter's finalisation (core/process.py)."""
    from core.process import run_and_exit

    run_and_exit(app)


if __name__ == "__main__":
    main()
