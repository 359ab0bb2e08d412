"""What every scenario shares: percentiles, medians over repeated runs, per-process CPU time, and
the description of the machine and the versions, so that a figure in ``docs/benchmarks.md`` can
always be traced to where and with what it was measured."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100). Nearest rank rather than interpolation: with the
    small samples of a smoke run it returns a value that was actually observed."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100.0 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def latency_summary(seconds: Sequence[float]) -> dict[str, Any]:
    """p50/p95/p99/max in milliseconds (rounded to 0.1 ms) and the sample count."""

    def ms(v: float | None) -> float | None:
        return None if v is None else round(v * 1000.0, 1)

    return {
        "count": len(seconds),
        "p50_ms": ms(percentile(seconds, 50)),
        "p95_ms": ms(percentile(seconds, 95)),
        "p99_ms": ms(percentile(seconds, 99)),
        "max_ms": ms(max(seconds) if seconds else None),
        "mean_ms": ms(statistics.fmean(seconds) if seconds else None),
    }


def median_of(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return round(statistics.median(vals), 3) if vals else None


def proc_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of one process (Linux ``/proc``), or None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def self_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


class CpuMeter:
    """CPU seconds spent by named processes between ``start()`` and ``stop()``: with two cores
    shared by the dev server, the worker, the API, the simulators, PostgreSQL and the load
    generator, knowing who burnt the CPU says more than the wall clock alone."""

    def __init__(self, pids: dict[str, list[int]]) -> None:
        self.pids = pids
        self._start: dict[str, float] = {}
        self._t0 = 0.0
        self._final: dict[int, float] = {}

    def retire(self, pid: int) -> None:
        """Read a process's CPU just before it is killed: a dead process has no ``/proc`` entry, so
        without this its share would vanish from the span (and its name go negative)."""
        v = proc_cpu_seconds(pid)
        if v is not None:
            self._final[pid] = v

    def _cpu(self, pid: int) -> float | None:
        v = proc_cpu_seconds(pid)
        return v if v is not None else self._final.get(pid)

    def _sample(self) -> dict[str, float]:
        out: dict[str, float] = {"bench driver": self_cpu_seconds()}
        for name, pids in self.pids.items():
            out[name] = sum(v for v in (self._cpu(p) for p in pids) if v is not None)
        return out

    def start(self) -> None:
        self._t0 = time.perf_counter()
        self._start = self._sample()

    def stop(self) -> dict[str, Any]:
        wall = time.perf_counter() - self._t0
        end = self._sample()
        used = {k: round(end[k] - self._start.get(k, 0.0), 2) for k in end}
        return {"wall_s": round(wall, 2), "cpu_s": used, "cpu_s_total": round(sum(used.values()), 2)}


def _first_line(cmd: list[str]) -> str | None:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else None


def machine() -> dict[str, Any]:
    cpu_model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "memory_gib": mem_gib,
        "cpu_model": cpu_model,
        "kernel": platform.release(),
        "loadavg_at_start": list(os.getloadavg()),
    }


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def versions() -> dict[str, Any]:
    temporal = BIN / "temporal"
    return {
        "python": platform.python_version(),
        "temporalio": _version("temporalio"),
        "temporal_cli": _first_line([str(temporal), "--version"]) if temporal.exists() else None,
        "fastapi": _version("fastapi"),
        "uvicorn": _version("uvicorn"),
        "sqlalchemy": _version("sqlalchemy"),
        "sqlmodel": _version("sqlmodel"),
        "asyncpg": _version("asyncpg"),
        "httpx": _version("httpx"),
    }


def envelope(scenario: str, params: dict[str, Any]) -> dict[str, Any]:
    """The common head of every scenario's JSON."""
    return {
        "scenario": scenario,
        "available": True,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["uiflow", *sys.argv[1:]]) if Path(sys.argv[0]).name == "uiflow" else None,
        "params": params,
        "machine": machine(),
        "versions": versions(),
        "notes": [],
    }


def not_available(scenario: str, reason: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """An honest "not yet": the scenario exists, what it measures has not landed."""
    out = envelope(scenario, params or {})
    out["available"] = False
    out["reason"] = reason
    return out
