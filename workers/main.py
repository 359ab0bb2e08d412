"""The worker process: registers workflows and activities on the case task queue, exports
Prometheus metrics (SDK metrics through the Runtime), and drains gracefully on SIGTERM so a
deploy never cancels a payment activity half way."""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import timedelta

from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.gov import GovClients
from core.db import Database
from core.settings import Settings
from core.temporal_client import connect_client
from workers import registry

log = logging.getLogger("uiflow.worker")

# Modules whose import is deterministic and heavy; passing them through keeps each workflow run
# from re-importing them inside the sandbox (temporal-notes §3: 35 times slower otherwise).
PASSTHROUGH = ("models", "policy", "pydantic", "sqlmodel", "sqlalchemy", "activities", "core", "httpx")


def sandbox_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
    )


def build_worker(
    client: Client,
    settings: Settings,
    db: Database,
    *,
    task_queue: str | None = None,
    gov: GovClients | None = None,
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=registry.workflows(),
        activities=registry.activities(settings, db, gov),
        workflow_runner=sandbox_runner(),
        graceful_shutdown_timeout=timedelta(seconds=settings.worker_shutdown_grace_seconds),
        max_concurrent_activities=100,
    )


async def run_worker(settings: Settings) -> None:
    runtime = Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(
                bind_address=f"127.0.0.1:{settings.worker_metrics_port}",
                counters_total_suffix=True,
                durations_as_seconds=True,
            ),
            global_tags={"service": "uiflow-worker"},
        )
    )
    client = await connect_client(settings, runtime=runtime)
    db = Database(settings.effective_database_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    worker = build_worker(client, settings, db)
    log.info("worker started on task queue %s", settings.task_queue)
    async with worker:
        await stop.wait()
        log.info("worker draining (up to %.0fs)", settings.worker_shutdown_grace_seconds)
    await db.dispose()
    log.info("worker stopped cleanly")
