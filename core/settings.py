"""One settings object for every process (API, worker, CLI, tests).

Read from the environment with the ``UIFLOW_`` prefix. Outside dev/test mode the settings refuse
unsafe defaults (no payload encryption key, the default JWT secret, the default applicant-key
secret), because a production agency must never run with keys anyone can read from the source.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "uiflow-dev-only-jwt-secret-change-me"
DEV_APPLICANT_SECRET = "uiflow-dev-only-applicant-key-secret"
#: The local API's address: fine for the demo's notices, never on one a person is handed in prod.
DEV_PUBLIC_BASE_URL = "http://127.0.0.1:8000"
# Callback secrets of the government systems (the simulators sign with these in dev and tests).
DEV_CALLBACK_KEYS = {
    "registration": "dev1:uiflow-dev-only-registration-callback-secret",
    "demand_platform": "dev1:uiflow-dev-only-demand-platform-callback-secret",
    "hotline": "dev1:uiflow-dev-only-hotline-12333-callback-secret",
    # the systems that learn of a stop condition (models/period_events.py)
    "contributions": "dev1:uiflow-dev-only-contributions-callback-secret",
    "insurance_record": "dev1:uiflow-dev-only-insurance-record-callback-secret",
    "civil_affairs": "dev1:uiflow-dev-only-civil-affairs-callback-secret",
    "cross_province": "dev1:uiflow-dev-only-cross-province-callback-secret",
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="UIFLOW_", extra="ignore")

    mode: Literal["dev", "test", "prod"] = "dev"
    data_dir: Path = Path(".data")

    # Case database: SQLite is the embedded default; PostgreSQL via asyncpg in production.
    database_url: str = ""

    # Temporal
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "uiflow"
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    temporal_tls_ca: Path | None = None
    temporal_api_key: str | None = None
    temporal_ui_url: str = "http://127.0.0.1:8233"
    task_queue: str = "uiflow-cases"
    worker_shutdown_grace_seconds: float = 60.0
    worker_metrics_port: int = 9000

    # Payload encryption: "kid:base64key,kid2:base64key"; the active key encrypts, all decrypt.
    codec_keys: str = ""
    codec_active_key: str = ""
    # Dev only: a secret path segment that lets the local Temporal Web UI (which cannot send a
    # staff token) use the codec endpoint. Empty in production, where the UI sends the token.
    codec_ui_key: str = ""

    # Staff identity
    jwt_secret: str = DEV_JWT_SECRET
    jwt_ttl_minutes: int = 480
    applicant_key_secret: str = DEV_APPLICANT_SECRET
    #: The key of the person-search hashes in the read model (``core/person_search.py``): a name or
    #: an ID tail with a birth date is found by its HMAC, never stored or compared in plain text.
    #: Empty: derived from ``applicant_key_secret`` (which prod already requires to be strong).
    search_key_secret: str = ""

    # Applicant sign-in: the government portal's real-name identity provider (OIDC). Empty in
    # dev/test means the stand-in under the simulators (``<sim_base_url>/idp``); required in prod.
    applicant_oidc_issuer: str = ""
    applicant_oidc_client_id: str = "uiflow"
    applicant_session_minutes: int = 60

    # API / console
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    cors_origins: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:8233", "http://localhost:8233"]
    )
    documents_dir: Path | None = None
    # Official notices (activities/notices.py): the public address printed on each notice (and in
    # its QR) where anyone holding it checks its check code; the CJK font embedded (a TTF/OTF/TTC
    # path, ``file.ttc#index`` for one face of a collection); empty finds Noto Serif CJK SC with
    # fontconfig (Debian fonts-noto-cjk, installed by ``make fonts``).
    public_base_url: str = DEV_PUBLIC_BASE_URL
    notice_font: str = ""

    # Operator overrides of the dated rule parameters (YAML files; see docs/operators.md)
    params_dir: Path | None = None
    # Operator-added holiday tables (one YAML per year, same shape as policy/calendar_data), so the
    # next year's State Council notice can be entered the day it is published, without a release.
    calendar_dir: Path | None = None

    # External government systems (sim/ in dev and tests)
    sim_base_url: str = "http://127.0.0.1:8100"
    sim_token: str = "uiflow-sim-token"
    external_timeout_seconds: float = 10.0
    # Each system's own callback secrets, "kid:secret,kid2:secret2" (activities/gov/callbacks.py):
    # distinct from sim_token, rotatable by adding a key, switching the sender, removing the old.
    callback_keys_registration: str = DEV_CALLBACK_KEYS["registration"]
    callback_keys_demand_platform: str = DEV_CALLBACK_KEYS["demand_platform"]
    callback_keys_hotline: str = DEV_CALLBACK_KEYS["hotline"]
    callback_keys_contributions: str = DEV_CALLBACK_KEYS["contributions"]
    callback_keys_insurance_record: str = DEV_CALLBACK_KEYS["insurance_record"]
    callback_keys_civil_affairs: str = DEV_CALLBACK_KEYS["civil_affairs"]
    callback_keys_cross_province: str = DEV_CALLBACK_KEYS["cross_province"]

    # Unconfirmed parameters (issue 14): a payment whose amount depends on a value marked
    # UNCONFIRMED waits until an operator confirms it (``uiflow params confirm``). None: required
    # in prod mode, not in dev/test (the demo pays with the packaged values).
    params_confirmation_required: bool | None = None

    # Pay day (docs/payments.md §0): rows per chunk (one bank batch) and chunks in flight per run.
    payday_chunk: int = 1000
    payday_parallel: int = 2
    #: The hour (Beijing) at which a pay day's batch is released to the bank. 09:00 is the
    #: agency's; a stack that must pay at any hour (``uiflow bench``/``drill``, which run at night
    #: too) sets 0, so a month due today is not held until the morning.
    payday_release_hour: int = Field(default=9, ge=0, le=23)

    @property
    def confirmation_required(self) -> bool:
        if self.params_confirmation_required is not None:
            return self.params_confirmation_required
        return self.mode == "prod"

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> Settings:
        if self.mode == "prod":
            problems = []
            if not self.codec_keys:
                problems.append("UIFLOW_CODEC_KEYS is required (payload encryption)")
            if self.jwt_secret == DEV_JWT_SECRET or len(self.jwt_secret) < 32:
                problems.append("UIFLOW_JWT_SECRET must be set to a secret of at least 32 characters")
            if self.applicant_key_secret == DEV_APPLICANT_SECRET or len(self.applicant_key_secret) < 32:
                problems.append(
                    "UIFLOW_APPLICANT_KEY_SECRET must be set to a secret of at least 32 characters"
                )
            if self.search_key_secret and len(self.search_key_secret) < 32:
                problems.append("UIFLOW_SEARCH_KEY_SECRET, when set, must be at least 32 characters")
            if not self.database_url:
                problems.append("UIFLOW_DATABASE_URL is required")
            problems.extend(self._callback_key_problems())
            if not self.applicant_oidc_issuer.startswith("https://"):
                problems.append(
                    "UIFLOW_APPLICANT_OIDC_ISSUER must name the real-name identity provider (https://...)"
                )
            if self.public_base_url == DEV_PUBLIC_BASE_URL or not self.public_base_url.startswith("https://"):
                # printed on every notice and in its QR: the default would send the holder of a
                # real notice to a loopback address, where its check code can never be verified
                problems.append(
                    "UIFLOW_PUBLIC_BASE_URL must be the public https:// address printed on notices"
                )
            if problems:
                raise ValueError("unsafe settings for production: " + "; ".join(problems))
        return self

    def callback_keyrings(self) -> dict[str, dict[str, str]]:
        """Each system's callback secrets by key id."""
        return {system: parse_secret_ring(spec) for system, spec in self._callback_specs()}

    def _callback_specs(self) -> list[tuple[str, str]]:
        return [(system, getattr(self, f"callback_keys_{system}")) for system in DEV_CALLBACK_KEYS]

    def _callback_key_problems(self) -> list[str]:
        problems = []
        for system, spec in self._callback_specs():
            env = f"UIFLOW_CALLBACK_KEYS_{system.upper()}"
            try:
                secrets_ = list(parse_secret_ring(spec).values())
            except ValueError:
                secrets_ = []
            if spec == DEV_CALLBACK_KEYS[system] or not secrets_:
                problems.append(f"{env} must be set to this system's own callback secrets")
            elif any(len(s) < 32 or s == self.sim_token for s in secrets_):
                problems.append(f"{env}: each secret needs 32 characters or more, and not the token")
        return problems

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'uiflow.db').as_posix()}"

    @property
    def effective_oidc_issuer(self) -> str:
        return (self.applicant_oidc_issuer or f"{self.sim_base_url.rstrip('/')}/idp").rstrip("/")

    @property
    def effective_documents_dir(self) -> Path:
        return self.documents_dir or (self.data_dir / "documents")

    def codec_keyring(self) -> tuple[dict[str, bytes], str]:
        """The payload keys and the active key id.

        In dev/test mode without configured keys, a key is generated once into ``data_dir`` so
        that cases survive a restart; in prod a missing key is refused by the validator.
        """
        if self.codec_keys:
            keys = parse_keyring(self.codec_keys)
            active = self.codec_active_key or next(iter(keys))
            if active not in keys:
                raise ValueError(f"UIFLOW_CODEC_ACTIVE_KEY {active!r} is not among UIFLOW_CODEC_KEYS")
            return keys, active
        path = self.data_dir / "codec-keys.json"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            doc = {"active": "dev1", "keys": {"dev1": base64.b64encode(secrets.token_bytes(32)).decode()}}
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(doc))
            os.chmod(tmp, 0o600)
            tmp.replace(path)
        doc = json.loads(path.read_text())
        keys = {kid: base64.b64decode(v) for kid, v in doc["keys"].items()}
        return keys, doc["active"]


def parse_keyring(spec: str) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        kid, sep, b64 = part.partition(":")
        if not sep:
            raise ValueError("codec keys must look like 'kid:base64key,...'")
        key = base64.b64decode(b64)
        if len(key) != 32:
            raise ValueError(f"codec key {kid!r} must be 32 bytes (AES-256)")
        keys[kid] = key
    if not keys:
        raise ValueError("no codec keys given")
    return keys


def parse_secret_ring(spec: str) -> dict[str, str]:
    """``kid:secret,kid2:secret2`` → {kid: secret}; the first is the one a sender signs with."""
    ring: dict[str, str] = {}
    for part in spec.split(","):
        kid, sep, secret = part.strip().partition(":")
        if not part.strip():
            continue
        if not sep or not kid.strip() or not secret.strip():
            raise ValueError("callback keys must look like 'kid:secret,...'")
        ring[kid.strip()] = secret.strip()
    return ring


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
