"""The worker as a process: it exports the SDK's Prometheus metrics, and on SIGTERM it drains and
exits cleanly (a deploy never cuts an activity in half)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from tests.waiting import polls

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_worker_metrics_and_graceful_stop(
    local_env: WorkflowEnvironment, wf_settings: Settings, pg_url: str
) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("UIFLOW_")}
    env.update(
        {
            "UIFLOW_MODE": "test",
            "UIFLOW_DATA_DIR": str(wf_settings.data_dir),
            "UIFLOW_CALENDAR_DIR": str(wf_settings.calendar_dir),
            "UIFLOW_TEMPORAL_ADDRESS": local_env.client.service_client.config.target_host,
            "UIFLOW_TEMPORAL_NAMESPACE": "default",
            "UIFLOW_TASK_QUEUE": "worker-process-test",
            "UIFLOW_CODEC_KEYS": wf_settings.codec_keys,
            "UIFLOW_CODEC_ACTIVE_KEY": wf_settings.codec_active_key,
            "UIFLOW_DATABASE_URL": pg_url,
            "UIFLOW_SIM_BASE_URL": wf_settings.sim_base_url,
            "UIFLOW_WORKER_METRICS_PORT": str(port),
            "UIFLOW_WORKER_SHUTDOWN_GRACE_SECONDS": "5",
        }
    )
    proc = await asyncio.to_thread(
        subprocess.Popen,
        [str(BIN / "uiflow"), "worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        body = ""
        async with httpx.AsyncClient() as c:
            for _ in polls():
                try:
                    r = await c.get(f"http://127.0.0.1:{port}/metrics")
                    body = r.text
                    if "temporal_num_pollers" in body:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        assert "temporal_num_pollers" in body, body[:500]
        assert 'service="uiflow-worker"' in body
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.to_thread(proc.communicate, timeout=30)
    assert proc.returncode == 0, out
    assert "worker stopped cleanly" in out
