"""`uiflow dev` as a newcomer runs it: everything comes up, /readyz says ready, the Web UI
answers, Ctrl-C leaves no process behind (no child, no port: the worker's metrics port included),
every child stopped with exit code 0, and a second start finds the same data. A worker killed
under it comes back by itself and the next claim is processed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from core.devserver import WRAPPER_ENV
from tests.api.test_claims_api import claim_body
from tests.waiting import WAIT_S, polls

BIN = Path(sys.executable).parent


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _config(tmp: Path) -> dict[str, int]:
    fe, ui, http, tmetrics, api, sim, wmetrics = _free_ports(7)
    doc = yaml.safe_load((Path(__file__).parents[2] / "temporal-dev.yaml").read_text())
    doc["temporal"].update(port=fe, ui_port=ui, http_port=http, metrics_port=tmetrics)
    doc["api"]["port"] = api
    doc["sim"].update(port=sim, population=200)
    doc["worker"]["metrics_port"] = wmetrics
    (tmp / "temporal-dev.yaml").write_text(yaml.safe_dump(doc))
    return {
        "api": api,
        "ui": ui,
        "frontend": fe,
        "sim": sim,
        "temporal_http": http,
        "temporal_metrics": tmetrics,
        "worker_metrics": wmetrics,
    }


def _start(tmp: Path) -> subprocess.Popen[str]:
    # None of the caller's settings, except how the dev server is started (scripts/test-as-of) and
    # the suite's working-day calendar (tests/conftest.py: a claim due in a year the packaged
    # tables lack would fail closed and never reach review).
    keep = {WRAPPER_ENV, "UIFLOW_CALENDAR_DIR"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("UIFLOW_") or k in keep}
    return subprocess.Popen(
        [str(BIN / "uiflow"), "dev", "--no-demo"],
        cwd=tmp,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait_ready(proc: subprocess.Popen[str], ports: dict[str, int], limit: float = 2 * WAIT_S) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            r = httpx.get(f"http://127.0.0.1:{ports['api']}/readyz", timeout=2)
            if r.status_code == 200:
                return time.monotonic() - t0
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"uiflow dev did not become ready in {limit:.0f} s")


def _children(parent: int) -> dict[int, str]:
    """The supervisor's child processes (each runs in its own session, so not by process group)."""
    out = subprocess.run(["ps", "-ww", "-eo", "pid=,ppid=,args="], capture_output=True, text=True).stdout
    found: dict[int, str] = {}
    for line in out.splitlines():
        pid, ppid, args = line.split(None, 2)
        if int(ppid) == parent:
            found[int(pid)] = args
    return found


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True).stdout
    return bool(state.strip()) and not state.strip().startswith("Z")


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    return out


def _alive(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_dev_comes_up_stops_cleanly_and_keeps_data(tmp_path: Path) -> None:
    ports = _config(tmp_path)
    proc = _start(tmp_path)
    try:
        _wait_ready(proc, ports)  # how fast is docs/benchmarks.md's subject: no timing asserted here
        assert httpx.get(f"http://127.0.0.1:{ports['ui']}/", timeout=5).status_code == 200
        r = httpx.post(
            f"http://127.0.0.1:{ports['api']}/api/v1/auth/login",
            json={"login": "admin", "password": "uiflow-demo"},
            timeout=5,
        )
        assert r.status_code == 200
        children = _children(proc.pid)
        assert len(children) == 4, children  # Temporal, simulators, worker, API
        assert _alive(ports["worker_metrics"])
    finally:
        out = _stop(proc)
    assert proc.returncode == 0, out
    assert "已全部停止" in out and "演示账号" in out
    for label in ("Temporal 开发服务器", "外部系统模拟服务", "工作进程", "API 服务"):
        assert f"{label}已停止（退出码 0）" in out, out
    assert not [pid for pid in children if _running(pid)], children
    for port in ports.values():
        assert not _alive(port), f"port {port} still served after Ctrl-C"
    assert (tmp_path / ".data" / "temporal.db").exists() and (tmp_path / ".data" / "uiflow.db").exists()
    key_before = (tmp_path / ".data" / "codec-keys.json").read_text()

    proc = _start(tmp_path)
    try:
        _wait_ready(proc, ports)
        r = httpx.get(f"http://127.0.0.1:{ports['api']}/readyz", timeout=5)
        assert r.json()["checks"] == {"database": "ok", "temporal": "ok"}
    finally:
        out = _stop(proc)
    assert proc.returncode == 0, out
    assert (
        tmp_path / ".data" / "codec-keys.json"
    ).read_text() == key_before  # same key: old cases still decrypt


def test_dev_refuses_a_taken_port(tmp_path: Path) -> None:
    ports = _config(tmp_path)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", ports["api"]))
        blocker.listen()
        proc = _start(tmp_path)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert f"端口 {ports['api']}" in out and "已被占用" in out


def _staff_token(api: str, login: str) -> str:
    r = httpx.post(f"{api}/api/v1/auth/login", json={"login": login, "password": "uiflow-demo"}, timeout=10)
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def _worker_pid(parent: int) -> int | None:
    return next((pid for pid, args in _children(parent).items() if args.endswith("uiflow worker")), None)


def test_a_killed_worker_comes_back_and_the_next_claim_is_processed(tmp_path: Path) -> None:
    ports = _config(tmp_path)
    api = f"http://127.0.0.1:{ports['api']}"
    proc = _start(tmp_path)
    try:
        _wait_ready(proc, ports)
        first = _worker_pid(proc.pid)
        assert first is not None, _children(proc.pid)
        os.kill(first, signal.SIGKILL)  # no drain, no goodbye
        t0 = time.monotonic()
        second: int | None = None
        while time.monotonic() - t0 < 120:  # a bound, not a speed: the restart's figure is in the note
            assert proc.poll() is None, "the supervisor stopped instead of restarting the worker"
            second = _worker_pid(proc.pid)
            if second not in (None, first) and _alive(ports["worker_metrics"]):
                break
            time.sleep(0.2)
        assert second not in (None, first), "the worker was not restarted within 120 s"

        person = httpx.post(
            f"http://127.0.0.1:{ports['sim']}/admin/persons",
            json={"scenario": "eligible", "insured_region": "150102"},
            timeout=10,
        ).json()
        clerk = _staff_token(api, "clerk.xc")  # submitted at the Xincheng counter
        r = httpx.post(
            f"{api}/api/v1/claims",
            json=claim_body(person),
            headers={"Authorization": f"Bearer {clerk}"},
            timeout=30,
        )
        assert r.status_code == 201, r.text
        case_id = r.json()["case_id"]
        token = _staff_token(api, "reviewer.xc")
        status = ""
        for _ in polls(2 * WAIT_S):  # the checks run on the restarted worker
            r = httpx.get(
                f"{api}/api/v1/claims/{case_id}", headers={"Authorization": f"Bearer {token}"}, timeout=10
            )
            status = r.json()["status"] if r.status_code == 200 else r.text
            if status == "under_review":
                break
            time.sleep(0.2)
        assert status == "under_review"
    finally:
        out = _stop(proc)
    assert proc.returncode == 0, out
    assert "工作进程意外退出（退出码 -9），1 秒后重启（第 1 次）" in out, out
    assert "工作进程已重启" in out
    assert not _alive(ports["worker_metrics"])
