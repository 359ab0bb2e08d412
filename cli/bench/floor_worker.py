"""The floor's worker process: ``python -m cli.bench.floor_worker --task-queue Q``.

Built like the product's worker (``workers.main``): the same client factory and data converter,
the same sandbox runner with the same passthrough modules, the same activity slots, so that the
floor differs from the claim only in what the workflow and its activities do."""

from __future__ import annotations

import argparse
import asyncio
import signal
from datetime import timedelta

from temporalio.worker import Worker

from cli.bench.floor_workflow import BenchFloorChild, BenchFloorWorkflow, bench_noop
from core.process import run_and_exit
from core.settings import get_settings
from core.temporal_client import connect_client
from workers.main import sandbox_runner


async def run(task_queue: str) -> None:
    settings = get_settings()
    client = await connect_client(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[BenchFloorWorkflow, BenchFloorChild],
        activities=[bench_noop],
        workflow_runner=sandbox_runner(),
        graceful_shutdown_timeout=timedelta(seconds=3),
        max_concurrent_activities=100,
    )
    async with worker:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--task-queue", required=True)
    task_queue = parser.parse_args().task_queue
    run_and_exit(lambda: asyncio.run(run(task_queue)))  # os._exit once closed (core/process.py)


if __name__ == "__main__":
    main()
