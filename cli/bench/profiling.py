"""Optional sampling profiles of the worker and the API during a timed run, with py-spy (a
PyPI tool the product does not depend on: installed into the venv by whoever profiles). The raw
collapsed stacks are kept, and the heaviest frames summarised into the JSON."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from cli.bench.common import BIN
from core.process import with_parent


def py_spy() -> str | None:
    candidate = BIN / "py-spy"
    return str(candidate) if candidate.exists() else shutil.which("py-spy")


class Profiler:
    def __init__(self, out_dir: Path, pids: dict[str, int], rate: int = 100) -> None:
        self.out_dir = out_dir
        self.pids = pids
        self.rate = rate
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> list[str]:
        exe = py_spy()
        if exe is None:
            return ["py-spy not installed: no profile taken (pip install py-spy into .venv)"]
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for name, pid in self.pids.items():
            out = self.out_dir / f"{name}.collapsed"
            self.procs[name] = subprocess.Popen(
                with_parent(
                    [
                        exe,
                        "record",
                        "--pid",
                        str(pid),
                        "--rate",
                        str(self.rate),
                        "--format",
                        "raw",
                        "--output",
                        str(out),
                        "--nonblocking",
                    ]
                ),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        return []

    def stop(self) -> dict[str, Any]:
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        summary: dict[str, Any] = {}
        for name, p in self.procs.items():
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
            path = self.out_dir / f"{name}.collapsed"
            if path.exists():
                summary[name] = {"file": str(path), **summarise(path)}
        return summary


def _short(frame: str) -> str:
    # "function (path/to/module.py:123)" -> "function (module.py)"
    func, _, where = frame.partition(" (")
    file = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{func} ({file})"


def summarise(path: Path, top: int = 15) -> dict[str, Any]:
    """Self time by frame and inclusive time by top-level package, from py-spy's raw format
    (``frame;frame;frame count`` per line)."""
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, n_s = line.rpartition(" ")
        if not stack or not n_s.isdigit():
            continue
        n = int(n_s)
        total += n
        frames = [_short(f) for f in stack.split(";")]
        self_time[frames[-1]] += n
        for f in set(frames):
            inclusive[f] += n
        leaf_file = frames[-1].rsplit("(", 1)[-1].rstrip(")")
        packages[leaf_file.split("/", 1)[0]] += n

    def pct(c: Counter[str]) -> list[list[Any]]:
        return [[k, round(100.0 * v / total, 1)] for k, v in c.most_common(top)] if total else []

    return {
        "samples": total,
        "self_pct": pct(self_time),
        "inclusive_pct": pct(inclusive),
        "leaf_package_pct": pct(packages),
    }


if __name__ == "__main__":  # summarise a saved profile: python -m cli.bench.profiling FILE
    import json

    print(
        json.dumps(
            summarise(Path(sys.argv[1]), top=int(sys.argv[2]) if len(sys.argv) > 2 else 25),
            ensure_ascii=False,
            indent=1,
        )
    )
