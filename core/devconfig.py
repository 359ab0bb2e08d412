"""``temporal-dev.yaml``: the local environment, turned into dev-server flags and settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field


class TemporalDev(BaseModel):
    ip: str = "127.0.0.1"
    port: int = 7233
    ui_port: int = 8233
    http_port: int = 7243
    metrics_port: int = 9233
    namespace: str = "uiflow"
    db_file: str = ".data/temporal.db"
    sqlite_pragmas: dict[str, str] = Field(default_factory=dict)
    dynamic_config: dict[str, Any] = Field(default_factory=dict)
    search_attributes: dict[str, str] = Field(default_factory=dict)


class Endpoint(BaseModel):
    host: str = "127.0.0.1"
    port: int


class SimConfig(BaseModel):
    port: int = 8100
    seed: int = 42
    population: int = 2000


class DevConfig(BaseModel):
    temporal: TemporalDev = Field(default_factory=TemporalDev)
    task_queues: dict[str, str] = Field(default_factory=lambda: {"cases": "uiflow-cases"})
    database_url: str = ""
    api: Endpoint = Field(default_factory=lambda: Endpoint(port=8000))
    sim: SimConfig = Field(default_factory=SimConfig)
    worker: dict[str, int] = Field(default_factory=lambda: {"metrics_port": 9000})
    demo: dict[str, int] = Field(default_factory=lambda: {"claims": 36})


def load(path: Path = Path("temporal-dev.yaml")) -> DevConfig:
    if not path.exists():
        return DevConfig()
    return DevConfig.model_validate(yaml.safe_load(path.read_text()) or {})


def dev_server_args(cfg: DevConfig, *, codec_endpoint: str | None = None) -> list[str]:
    """Flags for ``temporal server start-dev`` (the dev server has no config file of its own)."""
    t = cfg.temporal
    args = [
        "server",
        "start-dev",
        "--ip",
        t.ip,
        "--port",
        str(t.port),
        "--ui-port",
        str(t.ui_port),
        "--http-port",
        str(t.http_port),
        "--metrics-port",
        str(t.metrics_port),
        "--db-filename",
        t.db_file,
        "--namespace",
        t.namespace,
        "--ui-disable-news-fetch",
        "--log-level",
        "warn",
    ]
    for k, v in t.sqlite_pragmas.items():
        args += ["--sqlite-pragma", f"{k}={v}"]
    for k, v in t.search_attributes.items():
        args += ["--search-attribute", f"{k}={v}"]
    for k, v in t.dynamic_config.items():
        args += ["--dynamic-config-value", f"{k}={json.dumps(v)}"]
    if codec_endpoint:
        args += ["--ui-codec-endpoint", codec_endpoint]
    return args
