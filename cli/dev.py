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

from core import devconfig
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


class Supervisor:
    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        out = log.open("ab")
        p = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((name, p))
        return p

    def check(self) -> str | None:
        for name, p in self.procs:
            if p.poll() is not None:
                return name
        return None

    def stop(self) -> None:
        # Reverse order: API and worker first (the worker drains), Temporal last.
        for _name, p in reversed(self.procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for _name, p in reversed(self.procs):
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


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
    try:
        codec = f"{api_url}/codec/ui/{ui_key}"
        sup.start(
            "temporal",
            [_bin("temporal"), *devconfig.dev_server_args(cfg, codec_endpoint=codec)],
            env,
            logs / "temporal.log",
        )
        if not _wait_port(t.ip, t.port, 30):
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
        try:  # the daily subsidy anomaly alerts (notice item 6), registered the same way
            asyncio.run(_schedule_skill_alerts())
        except Exception as e:
            print(f"技能提升补贴预警计划未能登记：{type(e).__name__}", file=sys.stderr)

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
            dead = sup.check()
            if dead:
                print(f"{dead} 进程意外退出，见 .data/logs/{dead}.log；正在停止全部服务", file=sys.stderr)
                return 1
            time.sleep(0.5)
        return 0
    finally:
        print("正在停止……", flush=True)
        sup.stop()
        print("已全部停止。", flush=True)


async def _schedule_skill_alerts() -> None:
    from cli.schedules import schedule_skill_alerts
    from core.settings import get_settings
    from core.temporal_client import connect_client

    settings = get_settings()
    await schedule_skill_alerts(await connect_client(settings), settings.task_queue)
