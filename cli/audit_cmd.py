"""``uiflow audit ...``: timelines, the history archive, integrity checks and replay, for auditors,
supervisors and the deploy pipeline.

Every command that fails a check exits non-zero and names what failed, so CI and cron can gate on
it: ``replay`` (any history the current code no longer explains), ``verify`` (the audit-log chain,
any archived case's chain), ``archive`` (any run not archived). Usage errors exit 2.

Heavy imports (SQLAlchemy through the archive and the audit log) are made inside the commands that
need them, so ``uiflow audit replay --dir`` starts without them.
"""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import WorkflowRunner

from core.replay import (
    ReplayOutcome,
    ReplaySummary,
    histories_for_case,
    histories_from_archive,
    histories_from_query,
    history_files,
    history_paths,
    recorded_timelines,
    replay_all,
)
from core.replay_pool import ReplayPool, ReplaySetup, default_processes
from core.settings import Settings, get_settings
from core.temporal_client import connect_client, make_data_converter

if TYPE_CHECKING:
    from core import archive as arch
    from core.db import Database

app = typer.Typer(
    name="audit",
    help="审计：案件时间线、历史归档、完整性校验与历史回放。",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _workflows() -> list[type]:
    """The workflow classes replay checks against (the worker's own list)."""
    from workflows.registry import ALL_WORKFLOWS

    return list(ALL_WORKFLOWS)


def _runner() -> WorkflowRunner:
    """The worker's sandbox runner, so replay runs the code exactly as the worker does."""
    from workers.main import sandbox_runner

    return sandbox_runner()


def _setup(settings: Settings, sandboxed: bool) -> ReplaySetup:
    """What each replay process builds its replayer from: the worker's workflows and key ring; the
    worker's sandbox runner with ``--sandbox``, else the fast runner (core/replay_pool.py says why
    that checks the same)."""
    from workers.main import sandbox_runner

    keys, active = settings.codec_keyring()
    return ReplaySetup(tuple(_workflows()), keys, active, runner=sandbox_runner if sandboxed else None)


async def _client(settings: Settings) -> Client:
    return await connect_client(settings)


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _usage(message: str) -> typer.Exit:
    Console(stderr=True, highlight=False).print(f"错误：{message}")
    return typer.Exit(2)


# --- replay -------------------------------------------------------------------------------------


async def _chained(
    sources: list[AsyncIterator[WorkflowHistory | Path]],
) -> AsyncIterator[WorkflowHistory | Path]:
    for src in sources:
        async for h in src:
            yield h


async def _replay(
    settings: Settings,
    case: str | None,
    query: str | None,
    use_archive: bool,
    folder: Path | None,
    console: Console,
    *,
    sandboxed: bool = False,
    processes: int = 1,
) -> ReplaySummary:
    from core import archive as arch
    from core.db import Database

    client: Client | None = None
    db: Database | None = None
    sources: list[AsyncIterator[WorkflowHistory | Path]] = []
    total: int | None = 0
    setup = _setup(settings, sandboxed)
    # Forked before the client's and the progress bar's threads exist (core/replay_pool.py).
    pool = ReplayPool(setup, processes) if processes > 1 else None
    try:
        if case or query:
            client = await _client(settings)
        if case:
            assert client is not None
            chain = await arch.fetch_chain(client, case)
            sources.append(histories_for_case(client, case))
            total = (total or 0) + len(chain)
        if query:
            assert client is not None
            sources.append(histories_from_query(client, query))
            try:
                n = (await client.count_workflows(query)).count
                total = None if total is None else total + n
            except Exception:  # a server without visibility counts: an indeterminate bar
                total = None
        if use_archive:
            db = Database(settings.effective_database_url)
            async with db.session() as s:
                n = await arch.count_archived(s)
            total = None if total is None else total + n
            sources.append(histories_from_archive(db))
        if folder is not None:
            files = history_files(folder)
            total = None if total is None else total + len(files)
            sources.append(history_paths(folder))  # read by the replay processes, in parallel

        with Progress(
            SpinnerColumn(),
            TextColumn("回放历史"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[last]}"),
            console=console,
        ) as progress:
            task = progress.add_task("replay", total=total, last="")

            def _tick(o: ReplayOutcome) -> None:
                progress.update(task, advance=1, last=("✓ " if o.ok else "✗ ") + o.workflow_id)
                if not o.ok:
                    progress.console.print(f"[red]✗ {o.label}：{o.error_type}：{o.message}[/red]")

            if pool is not None:
                return await pool.replay(_chained(sources), on_result=_tick)
            return await replay_all(setup.replayer(), _chained(sources), on_result=_tick)
    finally:
        if pool is not None:
            pool.close()
        if db is not None:
            await db.dispose()


def _print_replay_summary(summary: ReplaySummary, console: Console) -> None:
    table = Table(title="回放结果", show_header=True)
    for col in ("历史数", "通过", "失败", "用时（秒）", "速率（个/秒）"):
        table.add_column(col, justify="right")
    table.add_row(
        str(summary.total),
        str(summary.total - len(summary.failures)),
        str(len(summary.failures)),
        f"{summary.seconds:.2f}",
        f"{summary.rate:.1f}",
    )
    console.print(table)
    if summary.failures:
        console.print(f"[red]有{len(summary.failures)}个历史无法用当前代码回放：[/red]")
        for o in summary.failures:
            console.print(f"[red]  ✗ {o.label}\n    {o.error_type}：{o.message}[/red]")
        causes = summary.causes()
        if "nondeterminism" in causes:
            console.print("非确定性变更：修改工作流的命令顺序须用 workflow.patched()；见 docs/auditors.md。")
        if "codec_key" in causes:
            console.print(
                "密钥问题，不是代码变更：把缺少的密钥（id:base64）加入 UIFLOW_CODEC_KEYS 后重新回放；"
                "见 docs/operators.md。"
            )
        if "failure" in causes:
            console.print("其他回放失败：见上面每个历史的错误信息与 docs/auditors.md。")
    elif summary.total == 0:
        console.print("[red]没有找到可回放的历史。[/red]")
    else:
        console.print("[green]全部历史均可用当前代码回放。[/green]")


@app.command("replay")
def replay_cmd(
    case: Annotated[str | None, typer.Option("--case", help="回放一个案件（含全部续接运行）")] = None,
    query: Annotated[
        str | None, typer.Option("--query", help="按可见性查询回放，如 \"CaseType='benefit_claim'\"")
    ] = None,
    use_archive: Annotated[bool, typer.Option("--archive", help="回放历史归档中的全部历史")] = False,
    folder: Annotated[Path | None, typer.Option("--dir", help="回放目录中的 JSON 历史文件")] = None,
    sandboxed: Annotated[
        bool, typer.Option("--sandbox", help="用 worker 的沙箱运行工作流代码（与 worker 完全相同，较慢）")
    ] = False,
    processes: Annotated[
        int, typer.Option("--processes", min=1, help="回放进程数（默认：CPU 核数）")
    ] = default_processes(),
) -> None:
    """用当前工作流代码回放历史，报告任何非确定性；有失败或没有历史时退出码为1。"""
    if not (case or query or use_archive or folder):
        raise _usage("请至少指定一个来源：--case、--query、--archive 或 --dir")
    if folder is not None and not folder.is_dir():
        raise _usage(f"目录不存在：{folder}")
    console = _console()
    summary = asyncio.run(
        _replay(
            get_settings(),
            case,
            query,
            use_archive,
            folder,
            console,
            sandboxed=sandboxed,
            processes=processes,
        )
    )
    _print_replay_summary(summary, console)
    if summary.failures or summary.total == 0:
        raise typer.Exit(1)


# --- archive ------------------------------------------------------------------------------------


async def _archive(
    settings: Settings, case: str | None, since_days: int | None, limit: int | None
) -> arch.ArchiveSummary:
    from core import archive as arch
    from core.db import Database

    client = await _client(settings)
    db = Database(settings.effective_database_url)
    try:
        if case:
            return await arch.archive_case(client, db, case)
        since = datetime.now(UTC) - timedelta(days=since_days) if since_days else None
        return await arch.archive_closed(client, db, since=since, limit=limit)
    finally:
        await db.dispose()


@app.command("archive")
def archive_cmd(
    case: Annotated[str | None, typer.Option("--case", help="只归档这个案件（全部已结束的运行）")] = None,
    since_days: Annotated[
        int | None, typer.Option("--since-days", min=1, help="只归档最近N天内结束的运行（默认：全部）")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="本次最多新归档的运行数")] = None,
) -> None:
    """把已结束案件的完整历史（载荷保持加密）导出到历史归档，按案件哈希链接并写入审计日志。"""
    console = _console()
    summary = asyncio.run(_archive(get_settings(), case, since_days, limit))
    console.print(
        f"新归档 {summary.archived} 段，已在归档中 {summary.already} 段，失败 {len(summary.failed)} 段"
    )
    if summary.more:
        console.print("已达到 --limit，还有未归档的运行，请再次运行。")
    for f in summary.failed:
        console.print(f"[red]  ✗ {f}[/red]")
    if summary.failed:
        raise typer.Exit(1)


@app.command("schedule-archiver")
def schedule_archiver_cmd(
    hour: Annotated[int, typer.Option(min=0, max=23, help="每天几点运行（北京时间）")] = 2,
    minute: Annotated[int, typer.Option(min=0, max=59)] = 30,
    lookback_days: Annotated[int, typer.Option(min=1, help="每次检查最近N天内结束的案件")] = 7,
) -> None:
    """登记（或更新）每日归档的 Temporal Schedule；可重复执行。"""
    settings = get_settings()
    created = asyncio.run(_schedule_archiver(settings, hour, minute, lookback_days))
    verb = "已创建" if created else "已更新"
    _console().print(
        f"{verb}每日归档计划 uiflow-archiver：每天 {hour:02d}:{minute:02d}（Asia/Shanghai），"
        f"任务队列 {settings.task_queue}，回看 {lookback_days} 天"
    )


async def _schedule_archiver(settings: Settings, hour: int, minute: int, lookback_days: int) -> bool:
    from temporalio.client import ScheduleActionStartWorkflow

    from cli.schedules import upsert_daily
    from workflows.archiver import SCHEDULE_ID, WORKFLOW_ID, ArchiverInput, ArchiverWorkflow

    action = ScheduleActionStartWorkflow(
        ArchiverWorkflow.run,
        ArchiverInput(lookback_days=lookback_days),
        id=WORKFLOW_ID,
        task_queue=settings.task_queue,
        execution_timeout=timedelta(hours=20),
    )
    return await upsert_daily(await _client(settings), SCHEDULE_ID, action, hour, minute)


# --- verify -------------------------------------------------------------------------------------


@app.command("verify")
def verify_cmd(
    case: Annotated[str | None, typer.Option("--case", help="只校验这个案件的归档")] = None,
) -> None:
    """校验审计日志哈希链和每个已归档案件的哈希链；任何不符都以非零退出码结束并指明问题。"""
    console = _console()

    from core import archive as arch
    from core.db import Database

    async def _go() -> arch.IntegrityReport:
        db = Database(get_settings().effective_database_url)
        try:
            return await arch.verify_all(db, case)
        finally:
            await db.dispose()

    rep = asyncio.run(_go())
    log = rep.audit_log
    if log.ok:
        console.print(f"审计日志：{log.entries} 条，哈希链完整（链头 {log.head or '—'}）")
    else:
        console.print(f"[red]✗ 审计日志哈希链校验失败（已检查 {log.entries} 条）：{log.problem}[/red]")
    a = rep.archive
    if a.ok:
        console.print(f"历史归档：{a.cases} 个案件，{a.runs} 段，全部校验通过")
    else:
        console.print(f"[red]✗ 历史归档：{a.cases} 个案件中 {len(a.failures)} 个校验失败[/red]")
        for f in a.failures:
            console.print(f"[red]  ✗ {f.workflow_id}[/red]")
            for p in f.problems:
                console.print(f"[red]      {p}[/red]")
    if not rep.ok:
        raise typer.Exit(1)
    console.print("[green]校验通过。[/green]")


# --- timeline -----------------------------------------------------------------------------------


async def _timeline(settings: Settings, case_id: str, redact: bool, bookkeeping: bool) -> dict[str, Any]:
    from core import archive as arch
    from core import audit
    from core.db import Database
    from core.timeline import VIEW_ACTION, build_timeline, describe_runs, ledger_rows, with_ledger
    from models.benefit import PERIOD_PREFIX

    db = Database(settings.effective_database_url)
    try:
        source = "temporal"
        try:
            client = await _client(settings)
            histories = await arch.fetch_chain(client, case_id)
        except Exception:
            source = "archive"
            histories = [h async for h in histories_from_archive(db, case_id)]
        if not histories:
            raise _usage(f"找不到案件 {case_id}（Temporal 与历史归档中都没有）")
        converter = make_data_converter(settings)
        recorded: list[Any] = []
        if not redact:
            recorded, _ = await recorded_timelines(histories, _workflows(), converter, _runner())
        events = await build_timeline(
            histories, None if redact else converter, recorded=recorded, include_bookkeeping=bookkeeping
        )
        async with db.session() as s:
            if case_id.startswith(PERIOD_PREFIX):  # its payments are in the ledger (docs/payments.md §0)
                events = with_ledger(events, await ledger_rows(s, case_id))
            await audit.append(
                s,
                actor=f"cli:{getpass.getuser()}",
                action=VIEW_ACTION,
                case_id=case_id,
                payload={
                    "decrypted": not redact,
                    "runs": [h.run_id for h in histories],
                    "events": len(events),
                },
                actor_role="cli",
                detail={"decrypted": not redact, "events": len(events), "source": source},
            )
            await s.commit()
        return {
            "case_id": case_id,
            "source": source,
            "decrypted": not redact,
            "runs": [r.model_dump(mode="json") for r in describe_runs(histories)],
            "events": [e.model_dump(mode="json") for e in events],
        }
    finally:
        await db.dispose()


@app.command("timeline")
def timeline_cmd(
    case_id: Annotated[str, typer.Argument(help="案件编号（工作流ID）")],
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
    redact: Annotated[bool, typer.Option("--redact", help="不解密载荷（不显示个人信息）")] = False,
    bookkeeping: Annotated[bool, typer.Option("--bookkeeping", help="包括台账与审计写入等记账事件")] = False,
) -> None:
    """显示案件时间线（从工作流历史重建）；每次查看都写入审计日志。"""
    doc = asyncio.run(_timeline(get_settings(), case_id, redact, bookkeeping))
    console = _console()
    if as_json:
        console.print_json(json.dumps(doc, ensure_ascii=False))
        return
    table = Table(title=f"案件 {case_id} 时间线（{'已解密' if doc['decrypted'] else '未解密'}）")
    for col in ("时间（北京时间）", "执行者", "类别", "事项"):
        table.add_column(col)
    for e in doc["events"]:
        at = datetime.fromisoformat(e["at"]).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(at, f"{e['actor_kind']}:{e['actor']}", e["category"], e["text_zh"])
    console.print(table)
