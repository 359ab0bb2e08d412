"""The dev supervisor's restart rule (cli/dev.py CrashPolicy), on a synthetic clock: backoff that
doubles up to a ceiling, and giving up on the fifth crash within two minutes, not on five crashes
spread over an afternoon. The behaviour under ``uiflow dev`` itself is
tests/integration/test_dev_command.py."""

from __future__ import annotations

from cli.dev import CrashPolicy


def test_backoff_doubles_to_a_ceiling_and_the_fifth_quick_crash_gives_up() -> None:
    p = CrashPolicy(limit=5, window=120.0, base_delay=1.0, max_delay=15.0)
    assert [p.on_crash("worker", t) for t in (0.0, 2.0, 5.0, 10.0)] == [1.0, 2.0, 4.0, 8.0]
    assert p.on_crash("worker", 20.0) is None
    assert p.on_crash("api", 20.0) == 1.0  # counted per child


def test_crashes_outside_the_window_are_forgotten() -> None:
    p = CrashPolicy(limit=5, window=120.0, base_delay=1.0, max_delay=15.0)
    delays = [p.on_crash("worker", t) for t in (0.0, 100.0, 200.0, 300.0, 400.0, 500.0)]
    assert None not in delays
    assert delays[-1] == 2.0  # only the crash at 400 s is still within two minutes of 500 s
    assert p.count("worker") == 2


def test_the_delay_never_exceeds_the_ceiling() -> None:
    p = CrashPolicy(limit=100, window=120.0, base_delay=1.0, max_delay=15.0)
    assert max(d for d in (p.on_crash("sim", float(t)) for t in range(10)) if d is not None) == 15.0
