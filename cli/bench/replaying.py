"""The ``replay`` scenario: how many histories per second ``uiflow audit replay`` gets through.

Real claim histories are made first (N claims through the API to approval, as in ``claims``), so
the figure is for the histories auditors will actually replay. Three numbers, because they answer
different questions:

- the command itself over a folder of exported histories (what CI's replay gate costs, Python
  start-up included);
- the command over a visibility query (the same, plus fetching each history from the server);
- the replay alone, without start-up: the process pool with the fast runner
  (``core.replay_pool``, what the command does) against one replayer with the worker's sandbox
  runner in this process (what it did before), alternating, repeated, reported as medians and
  their ratio."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from typing import Any

from temporalio.client import WorkflowHistory

from cli.bench.claims import make_people, run_claims_once, verify_claims
from cli.bench.common import BIN, median_of
from cli.bench.stack import Stack
from cli.bench.ui import Reporter
from core.replay import from_list, make_replayer, replay_all
from core.replay_pool import ReplayPool, ReplaySetup, default_processes
from core.temporal_client import make_data_converter
from workers.main import sandbox_runner
from workflows.registry import ALL_WORKFLOWS


def _run_command(stack: Stack, args: list[str]) -> dict[str, Any]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(BIN / "uiflow"), "audit", "replay", *args],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    tail = proc.stdout.strip().splitlines()[-6:]
    return {
        "args": args,
        "exit_code": proc.returncode,
        "wall_s": round(time.perf_counter() - t0, 3),
        "replay_s": _replay_seconds(tail),
        "output_tail": tail,
    }


_SUMMARY_ROW = re.compile(r"│\s*(\d+)\s*│\s*(\d+)\s*│\s*(\d+)\s*│\s*([\d.]+)\s*│")


def _replay_seconds(lines: list[str]) -> float | None:
    """The command's own replay time (its summary table's seconds: fetching and replaying, without
    Python start-up and the workflow modules' import), so the fixed cost and the rate are apart."""
    for line in lines:
        m = _SUMMARY_ROW.search(line)
        if m:
            return float(m.group(4))
    return None


async def scenario_replay(
    stack: Stack, out: dict[str, Any], *, n: int, concurrency: int, repeat: int, reporter: Reporter
) -> None:
    assert stack.client is not None and stack.settings is not None
    people = await make_people(stack, n)
    _, ids = await run_claims_once(stack, people, concurrency, reporter, label="replay: making histories")
    out["histories_made"] = await verify_claims(stack, ids)

    folder = stack.workdir / "histories"
    folder.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    histories: list[WorkflowHistory] = list(
        await asyncio.gather(*(stack.client.get_workflow_handle(c).fetch_history() for c in ids))
    )
    fetch_s = time.perf_counter() - t0
    for h in histories:
        (folder / f"{h.workflow_id}.json").write_text(h.to_json())
    out["history_events_total"] = sum(len(h.events) for h in histories)
    out["fetch"] = {"histories": len(histories), "seconds": round(fetch_s, 3)}

    replayer = make_replayer(
        list(ALL_WORKFLOWS),
        make_data_converter(stack.settings),
        sandbox_runner(),
    )
    keys, active = stack.settings.codec_keyring()
    in_process: list[dict[str, Any]] = []
    sandboxed_single: list[dict[str, Any]] = []

    def _row(summary: Any) -> dict[str, Any]:
        return {
            "histories": summary.total,
            "failures": len(summary.failures),
            "seconds": round(summary.seconds, 3),
            "histories_per_s": round(summary.rate, 2),
        }

    with (
        ReplayPool(ReplaySetup(tuple(ALL_WORKFLOWS), keys, active), default_processes()) as pool,
        reporter.phase(f"replay: {len(histories)} histories, pool and sandboxed × {repeat}", repeat) as adv,
    ):
        for _ in range(repeat):
            in_process.append(_row(await pool.replay(from_list(histories))))
            sandboxed_single.append(_row(await replay_all(replayer, from_list(histories))))
            adv()
    query = f"CaseType = 'benefit_claim' AND TaskQueue = '{stack.task_queue}'"
    with reporter.phase("replay: `uiflow audit replay` (folder, then query)", 2) as adv:
        from_dir = await asyncio.to_thread(_run_command, stack, ["--dir", str(folder)])
        adv()
        from_query = await asyncio.to_thread(_run_command, stack, ["--query", query])
        adv()
    for cmd in (from_dir, from_query):
        cmd["histories_per_s"] = round(len(histories) / cmd["wall_s"], 2) if cmd["wall_s"] else None
        replay_s = cmd["replay_s"]
        cmd["replay_histories_per_s"] = round(len(histories) / replay_s, 2) if replay_s else None
    out["runs"] = {
        "in_process": in_process,
        "sandboxed_single": sandboxed_single,
        "command_dir": from_dir,
        "command_query": from_query,
    }
    pooled = median_of(r["histories_per_s"] for r in in_process)
    single = median_of(r["histories_per_s"] for r in sandboxed_single)
    out["summary"] = {
        "histories": len(histories),
        "replay_histories_per_s": pooled,
        "replay_histories_per_s_sandboxed_single": single,
        "replay_ratio_to_sandboxed_single": round(pooled / single, 2) if pooled and single else None,
        "command_dir_histories_per_s": from_dir["histories_per_s"],
        "command_query_histories_per_s": from_query["histories_per_s"],
        # The same commands' replay alone (their own summary: start-up and imports excluded).
        "command_dir_replay_histories_per_s": from_dir["replay_histories_per_s"],
        "command_query_replay_histories_per_s": from_query["replay_histories_per_s"],
        "failures": sum(r["failures"] for r in in_process + sandboxed_single)
        + (from_dir["exit_code"] != 0)
        + (from_query["exit_code"] != 0),
    }
