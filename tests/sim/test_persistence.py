"""The simulator remembers across a restart, as the real systems would: a payment repeated with
the same idempotency key after the bank process was killed and started again on the same state
directory is not paid again, and a person made through the admin routes (and a registration) is
still there. A real ``uiflow sim`` process, killed with SIGKILL: no goodbye, no last save."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from sim.state import DEFAULT_TOKEN
from tests.waiting import polls

UIFLOW = str(Path(sys.executable).parent / "uiflow")
AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(state_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [UIFLOW, "sim", "--port", str(port), "--population", "200", "--state-dir", str(state_dir)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    for _ in polls():
        assert proc.poll() is None, log.read_text()[-2000:]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("the simulator did not start: " + log.read_text()[-2000:])


def test_a_repeated_key_after_a_restart_is_not_paid_again(tmp_path: Path) -> None:
    state_dir, log = tmp_path / "sim-state", tmp_path / "sim.log"
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start(state_dir, port, log)
    try:
        made = httpx.post(
            f"{base}/admin/persons", json={"scenario": "eligible", "registered": False}, timeout=10
        ).json()
        r = httpx.post(f"{base}/admin/registration/{made['id_number']}/register-online", json={}, timeout=10)
        assert r.status_code == 200, r.text
        payment: dict[str, Any] = {
            "idempotency_key": "claim-150102-persist-1:2026-01",
            "account_no": made["account_no"],
            "account_name": made["name"],
            "amount": "2156.50",
            "purpose": "失业保险金",
        }
        first = httpx.post(f"{base}/bank/disbursements", json=payment, headers=AUTH, timeout=10)
        assert first.status_code == 200, first.text
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    proc = _start(state_dir, port, log)
    try:
        again = httpx.post(f"{base}/bank/disbursements", json=payment, headers=AUTH, timeout=10)
        assert again.status_code == 200, again.text
        assert again.json()["bank_ref"] == first.json()["bank_ref"]
        book = httpx.get(f"{base}/admin/bank/ledger", timeout=10).json()
        assert book["count"] == 1 and book["payments_per_key"] == {payment["idempotency_key"]: 1}
        person = httpx.get(f"{base}/admin/persons/{made['id_number']}", timeout=10).json()
        assert person["name"] == made["name"] and person["account_no"] == made["account_no"]
        reg = httpx.get(f"{base}/registration/persons/{made['id_number']}", headers=AUTH, timeout=10).json()
        assert reg["registered"] is True
        # A new key is still paid: the bank was restored, not frozen.
        other = {**payment, "idempotency_key": "claim-150102-persist-1:2026-02"}
        assert (
            httpx.post(f"{base}/bank/disbursements", json=other, headers=AUTH, timeout=10).status_code == 200
        )
        assert httpx.get(f"{base}/admin/bank/ledger", timeout=10).json()["count"] == 2
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0, log.read_text()[-2000:]
