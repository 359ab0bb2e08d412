"""``uiflow bench SCENARIO``: measured performance, each figure against the engine floor
measured in the same run.

Every scenario starts what it needs (Temporal dev server, worker, API, simulators, a scratch
``uiflow_bench_*`` database) on free ports, or joins what the flags point at; prints a table with
a progress bar while it runs; and writes the full result as JSON (``--json``). Timings never run
in the test suite: ``tests/bench`` only checks the shape and the sanity of the numbers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from cli.bench.stack import Stack, StackOptions

app = typer.Typer(
    help="性能基准：每项结果都与同一次运行中测得的 Temporal 引擎下限对照",
    no_args_is_help=True,
)

JsonOpt = typer.Option(None, "--json", help="把完整结果写入该 JSON 文件")
RepeatOpt = typer.Option(3, "--repeat", min=1, help="重复次数（报告中位数）")
QuietOpt = typer.Option(False, "--quiet", help="不显示进度条")
TemporalOpt = typer.Option(None, "--temporal-address", help="使用已有的 Temporal 集群（默认启动开发服务器）")
DbOpt = typer.Option(
    None, "--database-url", help="使用已有的案件数据库（默认新建 uiflow_bench_* 并在结束后删除）"
)
ApiOpt = typer.Option(None, "--api-url", help="使用已有的 API（及其 worker）；此时须同时给出 --sim-url")
SimOpt = typer.Option(None, "--sim-url", help="使用已有的外部系统模拟服务")
KeepOpt = typer.Option(False, "--keep", help="保留临时目录与基准数据库（用于排查）")
InMemOpt = typer.Option(
    False, "--in-memory", help="开发服务器不用数据库文件（默认与 uiflow dev 相同：SQLite 文件 + WAL）"
)


def _emit(result: dict[str, Any], json_path: Path | None, quiet: bool) -> None:
    from rich.console import Console

    from cli.bench.ui import print_table

    console = Console(quiet=quiet)
    if not result.get("available", True):
        console.print(
            f"[yellow]{result['scenario']}：暂不可用（not available yet）[/yellow] {result['reason']}"
        )
    else:
        rows: list[tuple[str, Any]] = []
        for k, v in result.get("summary", {}).items():
            if isinstance(v, dict):
                rows += [(f"{k}.{kk}", vv) for kk, vv in v.items()]
            else:
                rows.append((k, v))
        shape = result.get("shape", {}).get("claim_history")
        if shape:
            rows += [
                (f"claim history: {k}", shape[k])
                for k in ("events", "activities", "timers_started", "updates", "search_attribute_upserts")
            ]
        print_table(f"uiflow bench {result['scenario']}", rows, console)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result, ensure_ascii=False, indent=2, default=str) + "\n")
        if not quiet:
            console.print(f"JSON: {json_path}")


Body = Callable[[Any, dict[str, Any], Any], Awaitable[None]]


async def _describe_stack(stack: Any, out: dict[str, Any], keep: bool) -> None:
    out["stack"] = {
        "temporal": stack.temporal_address or None,
        "started": list(stack.started),
        "api": stack.api_url or None,
        "database": stack.db_url.rsplit("/", 1)[-1] if stack.db_url else None,
        "workdir": str(stack.workdir) if keep else None,
    }
    if stack.db_url:
        conn = await stack.pg_conn()
        try:
            out["versions"]["postgresql"] = await conn.fetchval("show server_version")
        finally:
            await conn.close()


def _dump_tasks_on_sigusr1(stack: Stack) -> None:
    """``kill -USR1`` prints where every task of the bench is waiting and the last lines of each
    process's log (to stderr), so that a run that goes past its limit says which await it hung in
    and what the stack was doing (the smoke test sends it before the kill). Threads alone would
    show only the event loop's ``select``."""
    import signal
    import sys

    def dump() -> None:
        for task in asyncio.all_tasks():
            print(f"--- task {task.get_name()}", file=sys.stderr)
            task.print_stack(file=sys.stderr)
        alive = {name: p.poll() for name, p in stack.procs.items()}
        print(f"--- processes (None: running): {alive}", file=sys.stderr)
        for name in stack.started:
            print(f"--- {name}.log\n{stack.log_tail(name, 15)}", file=sys.stderr)
        sys.stderr.flush()

    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, dump)


def _run_many(
    jobs: list[tuple[str, dict[str, Any], Body, Path | None]], *, quiet: bool, stack_opts: StackOptions
) -> list[dict[str, Any]]:
    """Start the stack once, run each scenario body on it in turn, stop everything, then print
    and write each result."""
    from cli.bench.common import envelope, machine
    from cli.bench.stack import Stack
    from cli.bench.ui import Reporter

    reporter = Reporter(quiet=quiet)
    outs = [envelope(name, params) for name, params, _, _ in jobs]

    async def go() -> None:
        stack = Stack(stack_opts)
        _dump_tasks_on_sigusr1(stack)
        async with stack:
            for out, (_, _, body, _) in zip(outs, jobs, strict=True):
                await _describe_stack(stack, out, stack_opts.keep)
                await body(stack, out, reporter)
                out["machine"]["loadavg_at_end"] = machine()["loadavg_at_start"]
        for out in outs:  # known only once the stack is down
            out.setdefault("stack", {})["exit_codes"] = dict(stack.exit_codes)

    asyncio.run(go())
    for out, (_, _, _, json_path) in zip(outs, jobs, strict=True):
        _emit(out, json_path, quiet)
    return outs


def _run(
    scenario: str,
    params: dict[str, Any],
    body: Body,
    *,
    json_path: Path | None,
    quiet: bool,
    stack_opts: StackOptions,
) -> dict[str, Any]:
    return _run_many([(scenario, params, body, json_path)], quiet=quiet, stack_opts=stack_opts)[0]


def _stack_opts(**kw: Any) -> StackOptions:
    from cli.bench.stack import StackOptions

    return StackOptions(**kw)


@app.command()
def floor(
    n: int = typer.Option(200, "--n", min=1, help="工作流数量"),
    concurrency: int = typer.Option(20, "--concurrency", min=1, help="同时在途的工作流数"),
    repeat: int = RepeatOpt,
    json_path: Path | None = JsonOpt,
    quiet: bool = QuietOpt,
    temporal_address: str | None = TemporalOpt,
    database_url: str | None = DbOpt,
    api_url: str | None = ApiOpt,
    sim_url: str | None = SimOpt,
    keep: bool = KeepOpt,
    in_memory: bool = InMemOpt,
) -> None:
    """引擎下限：与申领正常路径相同数量的活动、计时器与 Update（活动为空操作），形状取自真实申领的历史。"""
    from cli.bench.claims import scenario_floor

    async def body(stack: Any, out: dict[str, Any], reporter: Any) -> None:
        await scenario_floor(stack, out, n=n, concurrency=concurrency, repeat=repeat, reporter=reporter)

    _run(
        "floor",
        {"n": n, "concurrency": concurrency, "repeat": repeat},
        body,
        json_path=json_path,
        quiet=quiet,
        stack_opts=_stack_opts(
            need_floor_worker=True,
            temporal_address=temporal_address,
            database_url=database_url,
            api_url=api_url,
            sim_url=sim_url,
            keep=keep,
            dev_server_in_memory=in_memory,
        ),
    )


def _profiler(stack: Any, profile_dir: Path | None) -> Any:
    """py-spy on the stack's worker and API, when ``--profile-dir`` asks for it."""
    if profile_dir is None:
        return None
    from cli.bench.profiling import Profiler

    return Profiler(profile_dir, {k: stack.procs[k].pid for k in ("worker", "api") if k in stack.procs})


@app.command()
def claims(
    n: int = typer.Option(200, "--n", min=1, help="申领数量"),
    concurrency: int = typer.Option(20, "--concurrency", min=1, help="同时在途的申领数"),
    repeat: int = RepeatOpt,
    json_path: Path | None = JsonOpt,
    quiet: bool = QuietOpt,
    profile_dir: Path | None = typer.Option(
        None, "--profile-dir", help="用 py-spy 采样 worker 与 API（最后一轮）"
    ),
    temporal_address: str | None = TemporalOpt,
    database_url: str | None = DbOpt,
    api_url: str | None = ApiOpt,
    sim_url: str | None = SimOpt,
    keep: bool = KeepOpt,
    in_memory: bool = InMemOpt,
) -> None:
    """N 件申领端到端（API 受理、登记、核验、模拟审核员经 API 通过、待遇核定），与同次运行的引擎下限对照。"""
    from cli.bench.claims import scenario_claims

    async def body(stack: Any, out: dict[str, Any], reporter: Any) -> None:
        profiler = _profiler(stack, profile_dir)
        await scenario_claims(
            stack, out, n=n, concurrency=concurrency, repeat=repeat, reporter=reporter, profiler=profiler
        )

    _run(
        "claims",
        {"n": n, "concurrency": concurrency, "repeat": repeat},
        body,
        json_path=json_path,
        quiet=quiet,
        stack_opts=_stack_opts(
            need_floor_worker=True,
            temporal_address=temporal_address,
            database_url=database_url,
            api_url=api_url,
            sim_url=sim_url,
            keep=keep,
            dev_server_in_memory=in_memory,
        ),
    )


@app.command()
def decide(
    n: int = typer.Option(100, "--n", min=1, help="决定数量（先受理同样数量的申领至待审核）"),
    concurrency: int = typer.Option(10, "--concurrency", min=1, help="同时提交的决定数"),
    repeat: int = RepeatOpt,
    json_path: Path | None = JsonOpt,
    quiet: bool = QuietOpt,
    profile_dir: Path | None = typer.Option(
        None, "--profile-dir", help="用 py-spy 采样 worker 与 API（最后一轮的决定阶段）"
    ),
    temporal_address: str | None = TemporalOpt,
    database_url: str | None = DbOpt,
    api_url: str | None = ApiOpt,
    sim_url: str | None = SimOpt,
    keep: bool = KeepOpt,
    in_memory: bool = InMemOpt,
) -> None:
    """工作人员经 API 作出审核决定（通过与不予通过 3:1），并发 C：延迟 p50/p99 与错误数。"""
    from cli.bench.claims import scenario_decide

    async def body(stack: Any, out: dict[str, Any], reporter: Any) -> None:
        profiler = _profiler(stack, profile_dir)
        await scenario_decide(
            stack, out, n=n, concurrency=concurrency, repeat=repeat, reporter=reporter, profiler=profiler
        )

    _run(
        "decide",
        {"n": n, "concurrency": concurrency, "repeat": repeat},
        body,
        json_path=json_path,
        quiet=quiet,
        stack_opts=_stack_opts(
            temporal_address=temporal_address,
            database_url=database_url,
            api_url=api_url,
            sim_url=sim_url,
            keep=keep,
            dev_server_in_memory=in_memory,
        ),
    )


@app.command("list")
def list_(
    rows: int = typer.Option(1_000_000, "--rows", min=1, help="生成的案件数"),
    n: int = typer.Option(50, "--n", min=1, help="每个查询的重复次数"),
    index_ddl: list[str] = typer.Option(
        [], "--index-ddl", help="测量前后对比的候选索引 DDL（仅作用于基准库）"
    ),
    json_path: Path | None = JsonOpt,
    quiet: bool = QuietOpt,
    database_url: str | None = DbOpt,
    keep: bool = KeepOpt,
) -> None:
    """百万级案件下的案件列表与待办查询（PostgreSQL），含 EXPLAIN ANALYZE 执行计划。"""
    from cli.bench.listing import scenario_list

    async def body(stack: Any, out: dict[str, Any], reporter: Any) -> None:
        await scenario_list(stack, out, rows=rows, iterations=n, reporter=reporter, index_ddl=index_ddl)

    _run(
        "list",
        {"rows": rows, "n": n, "index_ddl": index_ddl},
        body,
        json_path=json_path,
        quiet=quiet,
        stack_opts=_stack_opts(need_temporal=False, need_app=False, database_url=database_url, keep=keep),
    )


def _later(
    scenario: str, reason: str | None, params: dict[str, Any], json_path: Path | None, quiet: bool
) -> None:
    from cli.bench.common import not_available

    if reason is not None:
        _emit(not_available(scenario, reason, params), json_path, quiet)
        raise typer.Exit(0)


@app.command()
def replay(
    n: int = typer.Option(100, "--n", min=1, help="先端到端办理并回放的申领数量"),
    concurrency: int = typer.Option(20, "--concurrency", min=1, help="制作历史时同时在途的申领数"),
    repeat: int = RepeatOpt,
    json_path: Path | None = JsonOpt,
    quiet: bool = QuietOpt,
    keep: bool = KeepOpt,
    in_memory: bool = InMemOpt,
) -> None:
    """`uiflow audit replay` 每秒回放的历史数（先办理 N 件真实申领以取得历史）。"""
    from cli.bench.later import replay_missing

    params = {"n": n, "concurrency": concurrency, "repeat": repeat}
    _later("replay", replay_missing(), params, json_path, quiet)
    from cli.bench.replaying import scenario_replay

    async def body(stack: Any, out: dict[str, Any], reporter: Any) -> None:
        await scenario_replay(stack, out, n=n, concurrency=concurrency, repeat=repeat, reporter=reporter)

    _run(
        "replay",
        params,
        body,
        json_path=json_path,
        quiet=quiet,
        stack_opts=_stack_opts(keep=keep, dev_server_in_memory=in_memory),
    )


@app.command()
def payday(
    n: int = typer.Option(100_000, "--n", min=1, help="当日到期发放的待遇期数量"),
    real: int = typer.Option(
        1000, "--real", min=0, help="同时运行的真实待遇期工作流数量（其余为批量写入的发放计划）"
    ),
    chunk: int = typer.Option(1000, "--chunk", min=1, help="每个分片（一个银行批次）的笔数"),
    parallel: int = typer.Option(2, "--parallel", min=1, help="同时发放的分片数"),
    faults: bool = typer.Option(False, "--faults", help="银行20%单笔失败、5%批次超时，工作进程被强杀两次"),
    concurrency: int = typer.Option(20, "--concurrency", min=1, help="同时启动的真实待遇期数"),
    limit_s: float = typer.Option(3600.0, "--limit-s", min=1, help="最长等待（秒）"),
    json_path: Path | None = JsonOpt,
    quiet: bool = QuietOpt,
    keep: bool = KeepOpt,
    in_memory: bool = InMemOpt,
) -> None:
    """一个地区的发放日：N 笔到期待遇经发放日批量代发全部支付完成的时间，并核对每笔只付一次。"""
    from cli.bench.later import payday_missing

    params = {"n": n, "real": real, "chunk": chunk, "parallel": parallel, "faults": faults}
    _later("payday", payday_missing(), params, json_path, quiet)
    from cli.bench.paying import scenario_payday

    async def body(stack: Any, out: dict[str, Any], reporter: Any) -> None:
        await scenario_payday(
            stack,
            out,
            n=n,
            real=real,
            faults=faults,
            concurrency=concurrency,
            reporter=reporter,
            limit_s=limit_s,
        )

    _run(
        "payday",
        params,
        body,
        json_path=json_path,
        quiet=quiet,
        stack_opts=_stack_opts(
            keep=keep,
            dev_server_in_memory=in_memory,
            sim_population=int((n + real) * 1.02) + 300,
            env={"UIFLOW_PAYDAY_CHUNK": str(chunk), "UIFLOW_PAYDAY_PARALLEL": str(parallel)},
        ),
    )


@app.command()
def console(
    n: int = typer.Option(10_000, "--n", min=1, help="地区内的案件数"),
    iterations: int = typer.Option(30, "--iterations", min=1, help="每个页面的请求次数"),
    json_path: Path | None = JsonOpt,
    quiet: bool = QuietOpt,
    database_url: str | None = DbOpt,
    keep: bool = KeepOpt,
) -> None:
    """工作台页面渲染时间（一个地区 10,000 件案件，用工作台自带的批量写入函数生成）。"""
    from cli.bench.later import console_missing

    params = {"n": n, "iterations": iterations}
    _later("console", console_missing(), params, json_path, quiet)
    from cli.bench.consoling import scenario_console

    async def body(stack: Any, out: dict[str, Any], reporter: Any) -> None:
        await scenario_console(stack, out, n=n, iterations=iterations, reporter=reporter)

    _run(
        "console",
        params,
        body,
        json_path=json_path,
        quiet=quiet,
        stack_opts=_stack_opts(need_temporal=False, need_app=False, database_url=database_url, keep=keep),
    )


SUITE = ("floor", "claims", "decide", "replay", "payday")
# Also accepted by ``suite`` (not run by default: it writes --rows cases into the stack's database).
SUITE_EXTRA = ("list",)


@app.command()
def suite(
    scenarios: str = typer.Option(
        ",".join(SUITE), "--scenarios", help="逗号分隔：floor,claims,decide,replay,payday，另可加 list"
    ),
    n: int = typer.Option(50, "--n", min=1, help="每项的数量"),
    concurrency: int = typer.Option(20, "--concurrency", min=1),
    repeat: int = RepeatOpt,
    json_dir: Path | None = typer.Option(None, "--json-dir", help="每项一个 JSON 文件写入该目录"),
    quiet: bool = QuietOpt,
    keep: bool = KeepOpt,
    in_memory: bool = InMemOpt,
    rows: int = typer.Option(1_000_000, "--rows", min=1, help="list 项生成的案件数"),
) -> None:
    """在同一套服务上依次运行多项（启动一次），供完整报告与冒烟测试使用。"""
    from cli.bench.claims import scenario_claims, scenario_decide, scenario_floor
    from cli.bench.later import payday_missing, replay_missing

    names = [x.strip() for x in scenarios.split(",") if x.strip()]
    unknown = sorted(set(names) - set(SUITE) - set(SUITE_EXTRA))
    if unknown:
        raise typer.BadParameter(f"unknown scenario(s): {', '.join(unknown)}", param_hint="--scenarios")
    jobs: list[tuple[str, dict[str, Any], Body, Path | None]] = []
    kw = {"n": n, "concurrency": concurrency, "repeat": repeat}
    for name in names:
        path = json_dir / f"{name}.json" if json_dir else None
        if name == "payday":
            reason = payday_missing()
            if reason is not None:
                from cli.bench.common import not_available

                _emit(not_available("payday", reason, kw), path, quiet)
                continue
            from cli.bench.paying import scenario_payday

            body: Body = _bind(scenario_payday, {"n": n, "concurrency": concurrency, "real": min(n, 1000)})
            jobs.append((name, dict(kw), body, path))
            continue
        if name == "list":
            # The cases are written into the stack's own database, after what ran before them.
            from cli.bench.listing import scenario_list

            async def listing(stack: Any, out: dict[str, Any], reporter: Any) -> None:
                await scenario_list(stack, out, rows=rows, iterations=n, reporter=reporter, index_ddl=[])

            jobs.append((name, {"rows": rows, "n": n}, listing, path))
            continue
        if name == "replay":
            reason = replay_missing()
            if reason is not None:
                from cli.bench.common import not_available

                _emit(not_available("replay", reason, kw), path, quiet)
                continue
            from cli.bench.replaying import scenario_replay

            body = _bind(scenario_replay, kw)
        else:
            body = _bind(
                {"floor": scenario_floor, "claims": scenario_claims, "decide": scenario_decide}[name], kw
            )
        jobs.append((name, dict(kw), body, path))
    if jobs:
        _run_many(
            jobs,
            quiet=quiet,
            stack_opts=_stack_opts(need_floor_worker=True, keep=keep, dev_server_in_memory=in_memory),
        )


def _bind(fn: Callable[..., Awaitable[None]], kw: dict[str, Any]) -> Body:
    async def body(stack: Any, out: dict[str, Any], reporter: Any) -> None:
        await fn(stack, out, reporter=reporter, **kw)

    return body
