"""``uiflow dev``: the whole system on one machine, as child processes, stopped cleanly on Ctrl-C.

Order: Temporal dev server (state in .data/, WAL pragmas) → migrations and seed → simulators →
worker → API → demo claims (first start only). Every child runs in its own process group so that
stopping leaves nothing behind."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from core import devconfig, devserver
from core.process import with_parent
from core.seed import DEMO_PASSWORD, DEMO_STAFF


def _bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def _wait_port(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex((host, port)) == 0:
                return True
        time.sleep(0.2)
    return False


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((host, port)) != 0


#: What each child is called when the supervisor speaks about it.
LABELS = {
    "temporal": "Temporal 开发服务器",
    "sim": "外部系统模拟服务",
    "worker": "工作进程",
    "api": "API 服务",
}


class CrashPolicy:
    """When a crashed child is started again, and when the supervisor gives up.

    A child that dies is restarted after a delay that doubles with each crash (1, 2, 4, 8 s, at
    most ``max_delay``), so a worker killed once is back within a second or two while a child
    that cannot start does not spin. ``limit`` crashes of one child within ``window`` seconds
    mean it will not come up by itself: the whole stack stops, as before, with the log to read."""

    def __init__(
        self, *, limit: int = 5, window: float = 120.0, base_delay: float = 1.0, max_delay: float = 15.0
    ):
        self.limit = limit
        self.window = window
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.crashes: dict[str, list[float]] = {}

    def on_crash(self, name: str, now: float) -> float | None:
        """The delay before restarting ``name``, or ``None``: too many crashes, stop everything."""
        recent = [t for t in self.crashes.get(name, []) if now - t < self.window] + [now]
        self.crashes[name] = recent
        if len(recent) >= self.limit:
            return None
        return min(self.base_delay * 2 ** (len(recent) - 1), self.max_delay)

    def count(self, name: str) -> int:
        return len(self.crashes.get(name, []))


class Supervisor:
    def __init__(self, policy: CrashPolicy | None = None) -> None:
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.specs: dict[str, tuple[list[str], dict[str, str], Path]] = {}
        self.policy = policy or CrashPolicy()
        #: Crashed children waiting for their restart, with the monotonic time it is due.
        self.due: dict[str, float] = {}

    def start(self, name: str, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        self.specs[name] = (args, env, log)
        with log.open("ab") as out:
            p = subprocess.Popen(
                with_parent(args),  # a killed supervisor leaves no child (core/process.py)
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs[name] = p
        return p

    def tend(self, now: float) -> str | None:
        """One round of supervision: schedule crashed children for a restart (saying so), start
        those that are due. Returns the name of a child that keeps crashing, if any."""
        for name, p in self.procs.items():
            rc = p.poll()
            if rc is None or name in self.due:
                continue
            delay = self.policy.on_crash(name, now)
            label = LABELS.get(name, name)
            if delay is None:
                print(
                    f"{label}在 {self.policy.window / 60:.0f} 分钟内意外退出 {self.policy.limit} 次"
                    f"（退出码 {rc}），见 .data/logs/{name}.log；正在停止全部服务",
                    file=sys.stderr,
                    flush=True,
                )
                return name
            print(
                f"{label}意外退出（退出码 {rc}），{delay:.0f} 秒后重启（第 {self.policy.count(name)} 次），"
                f"见 .data/logs/{name}.log",
                file=sys.stderr,
                flush=True,
            )
            self.due[name] = now + delay
        for name, at in list(self.due.items()):
            if now >= at:
                del self.due[name]
                self.start(name, *self.specs[name])
                print(f"{LABELS.get(name, name)}已重启", flush=True)
        return None

    def stop(self) -> dict[str, int]:
        """Stop every child and return its exit code. Reverse order: API and worker first (the
        worker drains), Temporal last. A child that needs SIGKILL after 30 s shows as -9."""
        self.due.clear()
        for p in reversed(self.procs.values()):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        codes: dict[str, int] = {}
        for name, p in reversed(self.procs.items()):
            try:
                codes[name] = p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                codes[name] = p.wait()
        return codes


def run_dev(*, config_path: str, demo: bool) -> int:
    cfg = devconfig.load(Path(config_path))
    data = Path(".data")
    data.mkdir(exist_ok=True)
    logs = data / "logs"
    logs.mkdir(exist_ok=True)
    ui_key_file = data / "codec-ui-key"
    if not ui_key_file.exists():
        ui_key_file.write_text(secrets.token_urlsafe(24))
    ui_key = ui_key_file.read_text().strip()
    t = cfg.temporal
    api_url = f"http://{cfg.api.host}:{cfg.api.port}"
    sim_url = f"http://127.0.0.1:{cfg.sim.port}"

    for what, host, port in [
        ("Temporal", t.ip, t.port),
        ("Web UI", t.ip, t.ui_port),
        ("API", cfg.api.host, cfg.api.port),
        ("simulators", "127.0.0.1", cfg.sim.port),
    ]:
        if not _port_free(host, port):
            print(
                f"端口 {port}（{what}）已被占用：请先停止占用它的进程，或在 {config_path} 中修改端口。",
                file=sys.stderr,
            )
            return 1

    env = dict(os.environ)
    env.update(
        {
            "UIFLOW_MODE": env.get("UIFLOW_MODE", "dev"),
            "UIFLOW_DATA_DIR": str(data.resolve()),
            "UIFLOW_TEMPORAL_ADDRESS": f"{t.ip}:{t.port}",
            "UIFLOW_TEMPORAL_NAMESPACE": t.namespace,
            "UIFLOW_TEMPORAL_UI_URL": f"http://{t.ip}:{t.ui_port}",
            "UIFLOW_TASK_QUEUE": cfg.task_queues.get("cases", "uiflow-cases"),
            "UIFLOW_API_HOST": cfg.api.host,
            "UIFLOW_API_PORT": str(cfg.api.port),
            "UIFLOW_SIM_BASE_URL": sim_url,
            "UIFLOW_WORKER_METRICS_PORT": str(cfg.worker.get("metrics_port", 9000)),
            "UIFLOW_CODEC_UI_KEY": ui_key,
            "UIFLOW_CORS_ORIGINS": f'["http://{t.ip}:{t.ui_port}","http://localhost:{t.ui_port}"]',
        }
    )
    if cfg.database_url and "UIFLOW_DATABASE_URL" not in os.environ:
        env["UIFLOW_DATABASE_URL"] = cfg.database_url
    os.environ.update(env)
    from core.settings import get_settings

    get_settings.cache_clear()
    get_settings().codec_keyring()  # generate the dev key once, before any child reads it

    sup = Supervisor()
    stopping = False

    def _on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    started = time.monotonic()

    def serve() -> int:
        codec = f"{api_url}/codec/ui/{ui_key}"
        sup.start(
            "temporal",
            devserver.dev_server_command(devconfig.dev_server_args(cfg, codec_endpoint=codec)),
            env,
            logs / "temporal.log",
        )
        if not _wait_port(t.ip, t.port, devserver.STARTUP_TIMEOUT_S):
            print("Temporal 开发服务器未能启动，见 .data/logs/temporal.log", file=sys.stderr)
            return 1
        from cli.main import _migrate

        asyncio.run(_migrate(seed_demo=True))
        uiflow = _bin("uiflow")
        sup.start(
            "sim",
            [
                uiflow,
                "sim",
                "--port",
                str(cfg.sim.port),
                "--seed",
                str(cfg.sim.seed),
                "--population",
                str(cfg.sim.population),
                "--callback-url",
                f"{api_url}/api/v1/callbacks/gov",
                "--state-dir",
                str((data / "sim").resolve()),
            ],
            env,
            logs / "sim.log",
        )
        sup.start("worker", [uiflow, "worker"], env, logs / "worker.log")
        sup.start("api", [uiflow, "api"], env, logs / "api.log")
        for what, host, port in [
            ("simulators", "127.0.0.1", cfg.sim.port),
            ("API", cfg.api.host, cfg.api.port),
            ("Web UI", t.ip, t.ui_port),
        ]:
            if not _wait_port(host, port, 45):
                print(f"{what} 未能启动，见 .data/logs/", file=sys.stderr)
                return 1
        from cli.audit_cmd import _schedule_archiver
        from cli.demo import seed_employer_logins

        try:  # the daily history archive (idempotent: creates or updates the schedule)
            asyncio.run(_schedule_archiver(get_settings(), 2, 30, 7))
        except Exception as e:
            print(f"每日归档计划未能登记：{type(e).__name__}", file=sys.stderr)
        from cli.risk_cmd import schedule_risk_scan

        try:  # the daily risk scan (idempotent, as the archiver's)
            asyncio.run(schedule_risk_scan(get_settings()))
        except Exception as e:
            print(f"每日风险筛查计划未能登记：{type(e).__name__}", file=sys.stderr)
        try:  # the daily subsidy anomaly alerts (notice item 6), registered the same way
            asyncio.run(_schedule_skill_alerts())
        except Exception as e:
            print(f"技能提升补贴预警计划未能登记：{type(e).__name__}", file=sys.stderr)
        try:  # the premium refund's year-end run (notice item 4), once a year
            asyncio.run(_schedule_refund_year_end())
        except Exception as e:
            print(f"医保费返还年度告知计划未能登记：{type(e).__name__}", file=sys.stderr)

        employers = asyncio.run(seed_employer_logins(sim_url))
        demo_marker = data / "demo-submitted"
        n_demo = cfg.demo.get("claims", 0)
        if demo and n_demo and not demo_marker.exists():
            from cli.demo import submit_demo_claims

            try:
                n = asyncio.run(submit_demo_claims(api_url, sim_url, n_demo))
                demo_marker.write_text(str(n))
                print(f"已提交 {n} 件演示申领案件")
            except Exception as e:  # the demo is a courtesy; the system is up without it
                print(f"演示案件未能提交：{e}", file=sys.stderr)
        print(f"\nuiflow 已启动（{time.monotonic() - started:.1f} 秒）")
        print(f"  工作人员工作台   {api_url}/console")
        print(f"  API 文档         {api_url}/docs")
        print(f"  Temporal Web UI  http://{t.ip}:{t.ui_port}/namespaces/{t.namespace}/workflows")
        print(f"  外部系统模拟     {sim_url}/docs")
        print(f"  worker 指标      http://127.0.0.1:{cfg.worker.get('metrics_port', 9000)}/metrics")
        print(f"\n演示账号（密码均为 {DEMO_PASSWORD}）：")
        for login, name, roles, region in DEMO_STAFF:
            print(f"  {login:<16} {name}  {'、'.join(r.label for r in roles)}  {region}")
        if employers:
            print(f"\n用人单位网站登录（统一社会信用代码，密码 {DEMO_PASSWORD}）：{'、'.join(employers)}")
        print("\n按 Ctrl-C 停止全部服务。", flush=True)
        while not stopping:
            if sup.tend(time.monotonic()) is not None:
                return 1
            time.sleep(0.5)
        return 0

    try:
        outcome = serve()
    finally:
        print("正在停止……", flush=True)
        codes = sup.stop()
        for name, rc in codes.items():
            print(f"  {LABELS.get(name, name)}已停止（退出码 {rc}）", flush=True)
        print("已全部停止。", flush=True)
    # A child that did not stop cleanly (a non-zero code, or SIGKILL after 30 s) fails the run.
    return outcome if all(rc == 0 for rc in codes.values()) else 1


async def _schedule_refund_year_end() -> None:
    from cli.schedules import schedule_refund_year_end
    from core.settings import get_settings
    from core.temporal_client import connect_client

    settings = get_settings()
    await schedule_refund_year_end(await connect_client(settings), settings.task_queue, settings.params_dir)


async def _schedule_skill_alerts() -> None:
    from cli.schedules import schedule_skill_alerts
    from core.settings import get_settings
    from core.temporal_client import connect_client

    settings = get_settings()
    await schedule_skill_alerts(await connect_client(settings), settings.task_queue)
