"""All mutable state of the simulator, in one object held by the app.

One object (rather than module globals) so that several simulators can run in one process, as the
tests do, and so that ``POST /admin/reset`` can rebuild everything from the seed in one step.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from sim.clock import today_shanghai
from sim.population import Population, PopulationBuilder, build_population, stable_fraction

SYSTEMS: tuple[str, ...] = (
    "registration",
    "contributions",
    "insurance-record",
    "cross-province",
    "medical",
    "certificates",
    "training",
    "bank",
    "notifier",
    "demand-platform",
    "employers",
)

DEFAULT_TOKEN = "uiflow-sim-token"
# Each system's own callback signing key ("kid:secret"), distinct from the bearer token. Matches
# uiflow's dev defaults (core/settings.py); PUT /admin/config changes it (key rotation).
DEFAULT_CALLBACK_KEYS = {
    "registration": "dev1:uiflow-dev-only-registration-callback-secret",
    "demand_platform": "dev1:uiflow-dev-only-demand-platform-callback-secret",
}


class SimError(Exception):
    """A refusal or fault, rendered as ``{"error": {"code", "message"}}`` with ``status``."""

    def __init__(self, status: int, code: str, message_zh: str) -> None:
        super().__init__(f"{status} {code}: {message_zh}")
        self.status = status
        self.code = code
        self.message_zh = message_zh


class FaultConfig(BaseModel):
    """Faults for one system. Rates are probabilities per call, drawn in the order timeout, error,
    refusal; latency is added to every call first."""

    latency_ms: int = Field(default=0, ge=0)
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    timeout_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    refuse_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    refuse_code: str = "request.refused"
    refuse_status: int = Field(default=409, ge=400, le=499)
    #: How long a "timed out" call hangs before answering 504; longer than any client timeout.
    hang_seconds: float = Field(default=30.0, ge=0.0)


class SimConfig(BaseModel):
    callback_url: str | None = None
    token: str = DEFAULT_TOKEN
    callback_keys: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_CALLBACK_KEYS))
    #: Share of people whose insurance record refuses a stop-reason change (``record.locked``).
    record_locked_share: float = Field(default=0.2, ge=0.0, le=1.0)
    #: Refuse every stop-reason change, whoever it is for.
    record_change_refused: bool = False
    #: Seconds after acceptance before a disbursement shows as paid (0: paid at once).
    bank_settle_seconds: float = Field(default=0.0, ge=0.0)


class Disbursement(BaseModel):
    idempotency_key: str
    account_no: str
    account_name: str
    amount: Decimal
    purpose: str
    case_ref: str | None = None
    bank_ref: str
    status: Literal["accepted", "paid"]
    accepted_at: datetime
    paid_at: datetime | None = None


class LedgerEntry(BaseModel):
    """One money movement. Exactly-once means one entry per idempotency key."""

    idempotency_key: str
    bank_ref: str
    account_no: str
    amount: Decimal
    at: datetime


class PremiumPayment(BaseModel):
    idempotency_key: str
    id_number: str
    month: str
    status: Literal["paid", "refused"]
    payment_no: str | None = None
    total: Decimal
    items: list[dict[str, Any]]
    refusal_code: str | None = None
    refusal_message: str | None = None
    at: datetime


class Message(BaseModel):
    message_id: str
    channel: Literal["sms", "portal"]
    recipient: str
    template: str
    text_zh: str
    case_ref: str | None = None
    idempotency_key: str | None = None
    status: Literal["queued", "delivered"] = "delivered"
    accepted_at: datetime


class Ticket(BaseModel):
    ticket_id: str
    category: str
    title_zh: str
    description_zh: str
    case_ref: str | None = None
    id_number: str | None = None
    employer_credit_code: str | None = None
    requested_stop_reason: str | None = None
    submitted_by: str
    idempotency_key: str | None = None
    status: Literal["open", "resolved", "rejected"] = "open"
    resolution: str | None = None
    engineer: str | None = None
    created_at: datetime
    resolved_at: datetime | None = None


class SimState:
    def __init__(
        self,
        *,
        seed: int = 42,
        population: int = 2000,
        callback_url: str | None = None,
        token: str = DEFAULT_TOKEN,
        as_of: date | None = None,
    ) -> None:
        self.seed = seed
        self.size = population
        self.initial_config = SimConfig(callback_url=callback_url, token=token)
        self.fixed_as_of = as_of
        self.reset()

    def reset(self) -> None:
        """Back to the state right after start: same people, no faults, empty ledgers."""
        self.as_of = self.fixed_as_of or today_shanghai()
        self.pop: Population
        self.builder: PopulationBuilder
        self.pop, self.builder = build_population(self.seed, self.size, self.as_of)
        # Exact cases made through the admin API come from their own stream, so they never shift
        # the seeded population and repeat across runs.
        self.builder.rng = random.Random(self.seed + 1)
        self.config = self.initial_config.model_copy()
        self.faults: dict[str, FaultConfig] = {}
        self.fault_rng = random.Random(self.seed)
        self.calls: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.disbursements: dict[str, Disbursement] = {}
        self.ledger: list[LedgerEntry] = []
        self.premiums: dict[str, PremiumPayment] = {}
        self.messages: list[Message] = []
        self.message_keys: dict[str, Message] = {}
        self.tickets: dict[str, Ticket] = {}
        self.ticket_keys: dict[str, Ticket] = {}
        self.callbacks: list[dict[str, Any]] = []
        self._seq: Counter[str] = Counter()

    def next_seq(self, kind: str) -> int:
        self._seq[kind] += 1
        return self._seq[kind]

    def record_locked(self, id_number: str) -> bool:
        person = self.pop.persons.get(id_number)
        if self.config.record_change_refused or (person is not None and person.record_locked):
            return True
        if person is None or not person.seeded:
            return False
        return stable_fraction(self.seed, "lock:" + id_number) < self.config.record_locked_share
