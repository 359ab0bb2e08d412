"""Replay at full speed: histories spread over a pool of processes, each with its own replayer.

Why: one replayer takes one history at a time, and Python runs one thread at a time, so replay
used one core at about 7 claim histories/s; an auditor replaying a year of cases, or the deploy
gate replaying every recorded path, waited on it. Each process builds its replayer once (the same
workflow classes, the same data converter with the codec, from the picklable :class:`ReplaySetup`)
and replays batches of histories sent to it as protobuf bytes.

Runner: by default the replay runs the workflow code without the sandbox (``fast`` below), which
roughly halves the CPU per history: the sandbox re-executes the workflow modules for every run and
hands every activation to a thread. That does not weaken the check. What replay proves, that the
code produces exactly the commands recorded in the history, is decided by the SDK core, which
compares every command the code issues against the recorded events whichever runner executed the
code (tests/replay/test_fast_replay.py: the same nondeterministic changes fail with the same
error under both runners). What the sandbox adds is a guard against calls it forbids (clock,
random, I/O) and against module state carried between runs: the worker runs every workflow in it
and the workflow tests run the worker's runner, so such code is refused there; our workflow
modules hold no mutable module state. ``sandboxed=True`` replays exactly as the worker runs.

In a replay process the fast runner also runs each activation inline on the process's own thread
(the SDK's ``debug_mode``), which turns off the SDK's deadlock detection; a watchdog (``SIGALRM``
per history, ``ReplaySetup.history_timeout_s``) fails a history whose code blocks instead of
hanging the gate.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.context
import os
import signal
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from temporalio.api.history.v1 import History
from temporalio.client import WorkflowHistory
from temporalio.runtime import Runtime, TelemetryConfig
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner, WorkflowRunner

from core.codec import AesGcmCodec
from core.process import stop_with_parent
from core.replay import (
    REPLAY_BUILD_ID,
    ReplayOutcome,
    ReplaySummary,
    load_history_file,
    outcome_of,
    replay_all,
)
from core.temporal_client import make_data_converter

# A claim history replays in about 40 ms of CPU; a history whose code blocks for this long is
# failed rather than waited on.
HISTORY_TIMEOUT_S = 60
# Histories per task sent to a process: big enough to amortise the replayer's start per task.
BATCH = 8


@dataclass(frozen=True)
class ReplaySetup:
    """What a replay process needs to build its replayer; picklable (classes and functions by
    reference, the key ring by value)."""

    workflows: tuple[type, ...]
    keys: dict[str, bytes]
    active_key: str
    # None: the fast runner (no sandbox, inline); else a module-level factory of the runner, e.g.
    # the worker's ``workers.main.sandbox_runner``.
    runner: Callable[[], WorkflowRunner] | None = None
    history_timeout_s: float = HISTORY_TIMEOUT_S

    @property
    def sandboxed(self) -> bool:
        return self.runner is not None

    def codec(self) -> AesGcmCodec:
        return AesGcmCodec(self.keys, self.active_key)

    def replayer(self, runtime: Runtime | None = None, *, watched: bool = False) -> Replayer:
        """The replayer. ``watched``: the caller arms the watchdog (a replay process), so the fast
        runner may run activations inline; otherwise the SDK's own deadlock detection stays on."""
        return Replayer(
            workflows=list(self.workflows),
            data_converter=make_data_converter(codec=self.codec()),
            workflow_runner=self.runner() if self.runner is not None else UnsandboxedWorkflowRunner(),
            debug_mode=watched and self.runner is None,
            runtime=runtime,
            build_id=REPLAY_BUILD_ID,
        )


def default_processes() -> int:
    return os.cpu_count() or 1


async def replay_parallel(
    setup: ReplaySetup,
    histories: AsyncIterator[WorkflowHistory | Path],
    *,
    processes: int | None = None,
    on_result: Callable[[ReplayOutcome], None] | None = None,
) -> ReplaySummary:
    """Replay every history, over ``processes`` processes (default: one per core; one: in this
    process). Never stops at the first failure."""
    n = processes or default_processes()
    if n <= 1:
        return await replay_all(setup.replayer(), histories, on_result=on_result)
    with ReplayPool(setup, n) as pool:
        return await pool.replay(histories, on_result=on_result)


class ReplayPool:
    """Processes that each build the replayer once and replay the batches sent to them.

    Made in a process that runs no other thread yet (the CLI makes the pool before the Temporal
    client and the progress bar start), the processes are forked from it and start with its
    modules, the workflows included, at no cost. A process that already runs threads, such as a
    Temporal runtime's (forking it kills the children), gets a fork server instead, started
    clean, which imports the workflow modules once and forks the processes from there. Each
    process makes its own Temporal runtime.
    """

    def __init__(self, setup: ReplaySetup, processes: int) -> None:
        self.processes = processes
        ctx: multiprocessing.context.BaseContext
        if len(os.listdir("/proc/self/task")) == 1:
            ctx = multiprocessing.get_context("fork")
        else:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(sorted({w.__module__ for w in setup.workflows} | {__name__}))
        self._executor = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=ctx,
            initializer=_init_process,
            initargs=(setup,),
        )
        self._executor.submit(int).result()  # forks every process now

    def __enter__(self) -> ReplayPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    async def replay(
        self,
        histories: AsyncIterator[WorkflowHistory | Path],
        *,
        on_result: Callable[[ReplayOutcome], None] | None = None,
    ) -> ReplaySummary:
        summary = ReplaySummary()
        t0 = time.perf_counter()
        loop = asyncio.get_running_loop()
        pending: set[asyncio.Future[list[ReplayOutcome]]] = set()

        def collect(done: set[asyncio.Future[list[ReplayOutcome]]]) -> None:
            for fut in done:
                for outcome in fut.result():
                    summary.outcomes.append(outcome)
                    if on_result is not None:
                        on_result(outcome)

        async for batch in _batches(histories, BATCH):
            pending.add(asyncio.wrap_future(self._executor.submit(_replay_batch, batch), loop=loop))
            if len(pending) >= 2 * self.processes:  # every process busy, without reading all first
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                collect(done)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            collect(done)
        summary.seconds = time.perf_counter() - t0
        return summary


Batch = list[Path | tuple[str, bytes]]  # a history file, or (workflow id, History protobuf)


async def _batches(histories: AsyncIterator[WorkflowHistory | Path], size: int) -> AsyncIterator[Batch]:
    batch: Batch = []
    async for h in histories:
        batch.append(
            h if isinstance(h, Path) else (h.workflow_id, History(events=h.events).SerializeToString())
        )
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- inside a replay process --------------------------------------------------------------------

_state: dict[str, Any] = {}


TIMEOUT_MESSAGE = "回放超时未结束：工作流代码可能阻塞（死循环、同步等待）"


class _Timeout(Exception):
    """Raised by the watchdog in whatever the process runs: inside workflow code the SDK fails
    the workflow task with it (the replay reports it); elsewhere :func:`_replay_batch` does."""


def _alarm(signum: int, frame: FrameType | None) -> None:
    _state["fired"] = True  # the SDK reports it as an encoded failure: the outcome says it plainly
    raise _Timeout(TIMEOUT_MESSAGE)


def _init_process(setup: ReplaySetup) -> None:
    stop_with_parent()  # a killed replay (or bench) leaves no pool process behind
    _state["setup"] = setup
    _state["loop"] = asyncio.new_event_loop()
    _state["runtime"] = Runtime(telemetry=TelemetryConfig())
    signal.signal(signal.SIGALRM, _alarm)


def _replay_batch(batch: Batch) -> list[ReplayOutcome]:
    setup: ReplaySetup = _state["setup"]
    loop: asyncio.AbstractEventLoop = _state["loop"]
    histories = [
        load_history_file(item)
        if isinstance(item, Path)
        else WorkflowHistory(item[0], History.FromString(item[1]).events)
        for item in batch
    ]
    outcomes: list[ReplayOutcome] = []
    while len(outcomes) < len(histories):
        try:
            loop.run_until_complete(_replay_watched(setup, histories[len(outcomes) :], outcomes))
        except _Timeout:
            outcomes.append(_timed_out(histories[len(outcomes)]))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    return outcomes


async def _replay_watched(
    setup: ReplaySetup, histories: Sequence[WorkflowHistory], outcomes: list[ReplayOutcome]
) -> None:
    """Replay with the watchdog re-armed for each history (the fast runner has no deadlock
    detection of its own). Outcomes are appended as they come, so after a timeout the caller
    knows which history was running."""
    codec = setup.codec()

    async def feed() -> AsyncIterator[WorkflowHistory]:
        for h in histories:
            _state["fired"] = False
            if not setup.sandboxed:
                signal.setitimer(signal.ITIMER_REAL, setup.history_timeout_s)
            yield h

    async with setup.replayer(_state["runtime"], watched=True).workflow_replay_iterator(feed()) as results:
        async for result in results:
            outcome = outcome_of(result, codec)
            outcomes.append(_timed_out(result.history) if _state.get("fired") else outcome)


def _timed_out(h: WorkflowHistory) -> ReplayOutcome:
    return ReplayOutcome(
        h.workflow_id, h.run_id, "?", False, "ReplayTimeout", TIMEOUT_MESSAGE, cause="failure"
    )
