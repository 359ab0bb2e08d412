"""Replay recorded histories against the current workflow code.

Why: a workflow change that does not reproduce the command sequence of a case already in history
(an activity inserted, a timer removed, without ``workflow.patched``) would break that case when a
worker picks it up again, and would mean the current code no longer explains a past decision.
Replaying histories proves the current code still produces exactly what was recorded; a deploy
pipeline gates on it (``uiflow audit replay`` exits non-zero on any failure).

The replayer gets the worker's data converter (with the payload codec: without it the encrypted
inputs cannot be decoded, temporal-notes §10) and the worker's sandbox runner. Both are passed in
by the caller (the CLI and the tests), so this module needs neither ``workers`` nor ``workflows``.

Histories come from one case (its continue-as-new chain), a visibility query, the history archive,
or a folder of JSON files (the Temporal CLI/UI format; the workflow id is the file name).

Replay is also how an auditor gets the workflow's own narrative timeline of a closed or archived
case without a worker: :func:`recorded_timelines` replays with an interceptor that keeps the
workflow instance and reads its ``timeline``.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from google.protobuf.message import Message
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import (
    ExecuteWorkflowInput,
    Interceptor,
    Replayer,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowReplayResult,
    WorkflowRunner,
)

from core.codec import ENCODING, KEY_ID, AesGcmCodec
from core.history_json import history_from_json
from models.case import TimelineEntry

if TYPE_CHECKING:  # the archive sources need SQLAlchemy: imported when used, not for a folder
    from core.db import Database


# The replay worker's build id. Without one the SDK derives it by hashing the code of every loaded
# module (about 0.4 s of CPU in each process that replays); a replay compares no build ids.
REPLAY_BUILD_ID = "uiflow-replay"


def make_replayer(
    workflows: Sequence[type],
    converter: DataConverter,
    runner: WorkflowRunner,
    *,
    interceptors: Sequence[Interceptor] = (),
) -> Replayer:
    return Replayer(
        workflows=list(workflows),
        data_converter=converter,
        workflow_runner=runner,
        interceptors=list(interceptors),
        build_id=REPLAY_BUILD_ID,
    )


# --- sources ------------------------------------------------------------------------------------


def load_history_file(path: Path) -> WorkflowHistory:
    """A history file in the Temporal CLI/UI JSON format (``temporal workflow show -o json``, the
    Web UI download, or ``WorkflowHistory.to_json``). Its workflow id is the file name, so a
    failure names the file. Read by :mod:`core.history_json`, the SDK's result at a quarter of
    its CPU."""
    return history_from_json(path.stem, path.read_text(encoding="utf-8"))


def history_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.json") if p.is_file())


async def histories_from_dir(folder: Path) -> AsyncIterator[WorkflowHistory]:
    for path in history_files(folder):
        yield load_history_file(path)


async def history_paths(folder: Path) -> AsyncIterator[Path]:
    """The folder's history files unread: parsing the JSON costs about as much as replaying it, so
    the replay processes read them (:mod:`core.replay_pool`)."""
    for path in history_files(folder):
        yield path


async def loaded(histories: AsyncIterator[WorkflowHistory | Path]) -> AsyncIterator[WorkflowHistory]:
    async for h in histories:
        yield load_history_file(h) if isinstance(h, Path) else h


async def histories_for_case(client: Client, case_id: str) -> AsyncIterator[WorkflowHistory]:
    from core.archive import fetch_chain

    for h in await fetch_chain(client, case_id):
        yield h


# Histories fetched at once for a visibility query, and fetched histories waiting for the replay:
# enough to hide the round trips, bounded so a query over a million cases does not hold them all.
FETCH_CONCURRENCY = 16
FETCH_BUFFER = 64


async def histories_from_query(
    client: Client, query: str, *, concurrency: int = FETCH_CONCURRENCY
) -> AsyncIterator[WorkflowHistory]:
    """The histories of every run the query lists, fetched ``concurrency`` at a time while the
    listing goes on (one at a time, 60 claim histories took 57 s; at once, 3 s). Yielded in the
    order they arrive; a failed fetch fails the iteration, as a failed listing does."""
    out: asyncio.Queue[WorkflowHistory | BaseException | None] = asyncio.Queue(FETCH_BUFFER)
    slots = asyncio.Semaphore(concurrency)

    async def fetch(workflow_id: str, run_id: str) -> None:
        try:
            await out.put(await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history())
        except BaseException as e:  # handed to the consumer, which raises it
            await out.put(e)
        finally:
            slots.release()

    async def produce() -> None:
        fetches: set[asyncio.Task[None]] = set()
        try:
            async for wf in client.list_workflows(query):
                await slots.acquire()
                task = asyncio.create_task(fetch(wf.id, wf.run_id))
                fetches.add(task)
                task.add_done_callback(fetches.discard)
            await asyncio.gather(*fetches)
        except BaseException as e:
            await out.put(e)
        await out.put(None)

    producer = asyncio.create_task(produce())
    try:
        while (item := await out.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        producer.cancel()


def histories_from_archive(db: Database, case_id: str | None = None) -> AsyncIterator[WorkflowHistory]:
    from core.archive import archived_histories

    return archived_histories(db, case_id)


async def from_list(histories: Sequence[WorkflowHistory]) -> AsyncIterator[WorkflowHistory]:
    for h in histories:
        yield h


# --- replay -------------------------------------------------------------------------------------


# Why a history did not replay: the code no longer produces its commands (fix: workflow.patched),
# a payload key missing from or wrong in the key ring (fix: UIFLOW_CODEC_KEYS), or anything else.
Cause = Literal["nondeterminism", "codec_key", "failure"]


@dataclass
class ReplayOutcome:
    workflow_id: str  # the case id (for a folder: the file name)
    run_id: str
    workflow_type: str
    ok: bool
    error_type: str | None = None
    message: str | None = None
    cause: Cause | None = None

    @property
    def label(self) -> str:
        return f"{self.workflow_id} (run {self.run_id}, {self.workflow_type})"


@dataclass
class ReplaySummary:
    outcomes: list[ReplayOutcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return len(self.outcomes)

    @property
    def failures(self) -> list[ReplayOutcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def rate(self) -> float:
        return self.total / self.seconds if self.seconds > 0 else 0.0

    def causes(self) -> set[Cause]:
        return {o.cause for o in self.failures if o.cause is not None}


def outcome_of(result: WorkflowReplayResult, codec: AesGcmCodec | None = None) -> ReplayOutcome:
    """The outcome of one replay. A failure that is not a nondeterminism error is checked against
    the key ring (``codec``): a history sealed with a key the ring lacks, or with a different key
    under the same id, fails in the SDK as an opaque "Encoded failure"; the auditor is told which
    key id and what to do instead."""
    h = result.history
    try:
        run_id, wtype = h.run_id, h.events[0].workflow_execution_started_event_attributes.workflow_type.name
    except Exception:
        run_id, wtype = "?", "?"
    err = result.replay_failure
    if err is None:
        return ReplayOutcome(h.workflow_id, run_id, wtype, ok=True)
    if isinstance(err, workflow.NondeterminismError):
        return ReplayOutcome(
            h.workflow_id, run_id, wtype, False, type(err).__name__, clear_message(err), "nondeterminism"
        )
    key_problem = codec_key_problem(h, codec) if codec is not None else None
    if key_problem is not None:
        return ReplayOutcome(h.workflow_id, run_id, wtype, False, key_problem[0], key_problem[1], "codec_key")
    return ReplayOutcome(
        h.workflow_id, run_id, wtype, False, type(err).__name__, clear_message(err), "failure"
    )


def _payloads(msg: Message) -> Iterator[Payload]:
    """Every ``Payload`` inside a protobuf message (inputs, results, headers, failures, memos)."""
    if isinstance(msg, Payload):
        yield msg
        return
    for fd, value in msg.ListFields():
        if fd.message_type is None:
            continue
        if fd.message_type.GetOptions().map_entry:
            if fd.message_type.fields_by_name["value"].message_type is None:
                continue
            items = list(value.values())
        elif fd.is_repeated:
            items = list(value)
        else:
            items = [value]
        for item in items:
            yield from _payloads(item)


def codec_key_problem(history: WorkflowHistory, codec: AesGcmCodec) -> tuple[str, str] | None:
    """``(error type, message)`` when the history's encrypted payloads name a key id the ring does
    not have, or one whose key does not open them; ``None`` when the ring opens every key id."""
    sealed: dict[str, Payload] = {}  # one payload per key id is enough to tell
    for event in history.events:
        for p in _payloads(event):
            if p.metadata.get("encoding") == ENCODING:
                sealed.setdefault(p.metadata.get(KEY_ID, b"").decode(), p)
    ring = ", ".join(sorted(codec.key_ids))
    missing = sorted(k for k in sealed if k not in codec.key_ids)
    if missing:
        ids = "、".join(repr(k) for k in missing)
        return (
            "CodecKeyMissing",
            f"历史载荷用密钥 {ids} 加密，当前密钥环（{ring}）中没有该密钥："
            f"请把它以 {missing[0]}:<base64 的32字节密钥> 加入 UIFLOW_CODEC_KEYS"
            "（逗号分隔，保留现有密钥与 UIFLOW_CODEC_ACTIVE_KEY），再重新回放",
        )
    wrong = sorted(k for k, p in sealed.items() if not codec.opens(p))
    if wrong:
        ids = "、".join(repr(k) for k in wrong)
        return (
            "CodecKeyMismatch",
            f"密钥环中的密钥 {ids} 打不开历史载荷（认证失败）：UIFLOW_CODEC_KEYS 中该密钥 id 对应的值"
            "不是加密这些历史时所用的密钥，请换成原密钥后再重新回放",
        )
    return None


_CORE_MESSAGE = re.compile(r'message: "((?:[^"\\]|\\.)*)"')


def clear_message(err: BaseException) -> str:
    """The SDK core's failure text without its Rust debug wrapping: for a nondeterminism error,
    e.g. ``[TMPRL1100] Nondeterminism error: Activity type of scheduled event 'x' does not match
    activity type of activity command 'y'``."""
    text = " ".join(str(err).split())
    m = _CORE_MESSAGE.search(text)
    return m.group(1) if m else text


async def replay_all(
    replayer: Replayer,
    histories: AsyncIterator[WorkflowHistory | Path],
    *,
    on_result: Callable[[ReplayOutcome], None] | None = None,
) -> ReplaySummary:
    """Replay every history (one worker for all of them); never stops at the first failure, so
    the summary names every history the current code no longer explains."""
    summary = ReplaySummary()
    codec = replayer.config().get("data_converter")
    codec = getattr(codec, "payload_codec", None)
    t0 = time.perf_counter()
    async with replayer.workflow_replay_iterator(loaded(histories)) as results:
        async for result in results:
            outcome = outcome_of(result, codec if isinstance(codec, AesGcmCodec) else None)
            summary.outcomes.append(outcome)
            if on_result is not None:
                on_result(outcome)
    summary.seconds = time.perf_counter() - t0
    return summary


# --- the workflow's own timeline, by replay -----------------------------------------------------


class TimelineCapture(Interceptor):
    """Keeps each replayed workflow instance (by run id) so its recorded ``timeline`` can be read
    after the replay. Reading an attribute of the finished instance changes nothing in it."""

    def __init__(self) -> None:
        self.instances: dict[str, Any] = {}

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        instances = self.instances

        class _Inbound(WorkflowInboundInterceptor):
            async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
                instances[workflow.info().run_id] = workflow.instance()
                return await super().execute_workflow(input)

        return _Inbound

    def timeline(self, run_id: str) -> list[TimelineEntry]:
        inst = self.instances.get(run_id)
        raw = getattr(inst, "timeline", None) or []
        return [e if isinstance(e, TimelineEntry) else TimelineEntry.model_validate(e) for e in raw]


async def recorded_timelines(
    histories: Sequence[WorkflowHistory],
    workflows: Sequence[type],
    converter: DataConverter,
    runner: WorkflowRunner,
) -> tuple[list[TimelineEntry], ReplaySummary]:
    """The workflow's recorded timeline entries over a chain of runs (by replaying them), and the
    replay outcome (a history that no longer replays gives what it recorded up to the failure)."""
    capture = TimelineCapture()
    replayer = make_replayer(workflows, converter, runner, interceptors=[capture])
    summary = await replay_all(replayer, from_list(histories))
    entries: dict[tuple[Any, ...], TimelineEntry] = {}
    for h in histories:
        for e in capture.timeline(h.run_id):
            # A timeline carried across continue-as-new would repeat earlier entries.
            entries.setdefault((e.at, e.what, e.actor, e.text_zh), e)
    return sorted(entries.values(), key=lambda e: e.at), summary
