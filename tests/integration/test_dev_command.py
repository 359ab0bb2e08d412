"""`uiflow dev` as a newcomer runs it: everything comes up, /readyz says ready, the Web UI
answers, Ctrl-C leaves no process behind, and a second start finds the same data."""

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
    return {"api": api, "ui": ui, "frontend": fe, "sim": sim}


def _start(tmp: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UIFLOW_")}
    return subprocess.Popen(
        [str(BIN / "uiflow"), "dev", "--no-demo"],
        cwd=tmp,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait_ready(proc: subprocess.Popen[str], ports: dict[str, int], limit: float = 60.0) -> float:
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
    raise AssertionError("uiflow dev did not become ready in 60 s")


def _children(pgid_leader: int) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,pgid,args"], capture_output=True, text=True).stdout
    return [
        line
        for line in out.splitlines()[1:]
        if "uiflow" in line and "pytest" not in line and str(pgid_leader) in line.split()[1:2]
    ]


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
        took = _wait_ready(proc, ports)
        assert took < 60
        assert httpx.get(f"http://127.0.0.1:{ports['ui']}/", timeout=5).status_code == 200
        r = httpx.post(
            f"http://127.0.0.1:{ports['api']}/api/v1/auth/login",
            json={"login": "admin", "password": "uiflow-demo"},
            timeout=5,
        )
        assert r.status_code == 200
    finally:
        out = _stop(proc)
    assert proc.returncode == 0, out
    assert "已全部停止" in out and "演示账号" in out
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
