"""The bench's CPU meter keeps a killed process's CPU (the pay-day fault run SIGKILLs the worker
twice): read just before the kill, it stays in the span instead of turning the name negative."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from cli.bench.common import CpuMeter, proc_cpu_seconds

# Waits for "go", burns 0.3 s of CPU, says so, then waits to be killed.
BURN = """
import sys, time
sys.stdin.readline()
t = time.process_time()
while time.process_time() - t < 0.3:
    pass
print("burnt", flush=True)
sys.stdin.read()
"""


def test_a_killed_process_keeps_the_cpu_it_spent_in_the_span() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", BURN], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        meter = CpuMeter({"worker": [child.pid]})
        meter.start()
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout is not None and child.stdout.readline().strip() == "burnt"
        meter.retire(child.pid)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        assert proc_cpu_seconds(child.pid) is None  # gone from /proc
        used = meter.stop()["cpu_s"]["worker"]
        assert used > 0  # what it spent before the kill, not minus its start
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
