"""Run the simulator as a standalone process (``uiflow dev`` starts it beside the API and worker)."""

from __future__ import annotations

from pathlib import Path

import uvicorn

from sim.app import create_app


def run(
    host: str = "127.0.0.1",
    port: int = 8100,
    seed: int = 42,
    population: int = 2000,
    callback_url: str | None = None,
    state_dir: Path | None = None,
) -> None:
    app = create_app(seed=seed, population=population, callback_url=callback_url, state_dir=state_dir)
    # No access log: request paths carry (synthetic) ID numbers, and the habit of logging them is the
    # one thing the project forbids; ``GET /admin/stats`` counts calls instead.
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False, timeout_graceful_shutdown=2)


if __name__ == "__main__":
    from core.process import run_and_exit

    run_and_exit(run)
