"""All mutable state of the simulator, in one object held by the app, and its storage on disk.

One object (rather than module globals) so that several simulators can run in one process, as the
tests do, and so that ``POST /admin/reset`` can rebuild everything from the seed in one step.

With a state directory (``uiflow dev`` uses ``.data/sim``) the state survives a restart, as the
real systems' would: the bank still knows every idempotency key it has paid, so a repeated key
after a restart is not paid again, and people made through the admin routes are still there.
What is stored is what cannot be rebuilt from the seed: the ledgers and keys, the people,
employers and certificates added or changed since start, and the draw streams' positions. The
file is written after every state-changing request and before its answer leaves, so an answer
the caller has seen is never lost by a crash (a process kill; not a power cut: no fsync).
"""

from __future__ import annotations

import logging
import os
import pickle
import random
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
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
    "hotline",
    "civil-affairs",
)

DEFAULT_TOKEN = "uiflow-sim-token"
# Each system's own callback signing key ("kid:secret"), distinct from the bearer token. Matches
# uiflow's dev defaults (core/settings.py); PUT /admin/config changes it (key rotation).
DEFAULT_CALLBACK_KEYS = {
    "registration": "dev1:uiflow-dev-only-registration-callback-secret",
    "demand_platform": "dev1:uiflow-dev-only-demand-platform-callback-secret",
    "hotline": "dev1:uiflow-dev-only-hotline-12333-callback-secret",
    "contributions": "dev1:uiflow-dev-only-contributions-callback-secret",
    "insurance_record": "dev1:uiflow-dev-only-insurance-record-callback-secret",
    "civil_affairs": "dev1:uiflow-dev-only-civil-affairs-callback-secret",
    "cross_province": "dev1:uiflow-dev-only-cross-province-callback-secret",
}

log = logging.getLogger("uiflow.sim")


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
    #: While true, a single disbursement is booked (ledger written) but its answer is withheld:
    #: the payer's process can be killed after the bank accepted and before it heard so.
    bank_withhold_answers: bool = False


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


class SimStore:
    """One simulator's durable state: a single pickle file in ``root``, replaced atomically (write
    beside, then rename), so a kill mid-write leaves the previous version. Knows nothing of what
    the state holds; :class:`SimState` decides that."""

    FILE = "sim-state.pickle"

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.path = root / self.FILE

    def load(self) -> dict[str, Any] | None:
        if not self.path.exists():
            return None
        with self.path.open("rb") as f:
            data: dict[str, Any] = pickle.load(f)  # our own file, written by save() below
        return data

    def save(self, data: dict[str, Any]) -> None:
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("wb") as f:
            pickle.dump(data, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, self.path)


#: SimState attributes stored whole: the ledgers, their idempotency keys and the sequences.
DURABLE = (
    "config",
    "disbursements",
    "ledger",
    "premiums",
    "self_payments",
    "messages",
    "message_keys",
    "tickets",
    "ticket_keys",
    "callbacks",
    "_seq",
)
STORE_VERSION = 1


class SimState:
    def __init__(
        self,
        *,
        seed: int = 42,
        population: int = 2000,
        callback_url: str | None = None,
        token: str = DEFAULT_TOKEN,
        as_of: date | None = None,
        state_dir: Path | None = None,
    ) -> None:
        self.seed = seed
        self.size = population
        self.initial_config = SimConfig(callback_url=callback_url, token=token)
        self.fixed_as_of = as_of
        self.store = SimStore(state_dir) if state_dir is not None else None
        stored = self.store.load() if self.store is not None else None
        if stored is not None and (stored.get("version"), stored.get("seed"), stored.get("size")) != (
            STORE_VERSION,
            seed,
            population,
        ):
            log.warning("sim: stored state is for another seed or size; starting afresh")
            stored = None
        self.reset(as_of=stored["as_of"] if stored else None)
        if stored is not None:
            self._restore(stored)

    def reset(self, *, as_of: date | None = None) -> None:
        """Back to the state right after start: same people, no faults, empty ledgers."""
        self.as_of = as_of or self.fixed_as_of or today_shanghai()
        self.pop: Population
        self.builder: PopulationBuilder
        self.pop, self.builder = build_population(self.seed, self.size, self.as_of)
        # Exact cases made through the admin API come from their own stream, so they never shift
        # the seeded population and repeat across runs.
        self.builder.rng = random.Random(self.seed + 1)
        #: What the seed made, so that what was added since can be told apart cheaply.
        self.seeded_keys = (set(self.pop.persons), set(self.pop.employers), set(self.pop.certificates))
        #: Seeded people changed since (registered, stop reason changed): see :meth:`changed`.
        self.changed_people: set[str] = set()
        self.config = self.initial_config.model_copy()
        self.faults: dict[str, FaultConfig] = {}
        self.fault_rng = random.Random(self.seed)
        self.calls: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.disbursements: dict[str, Disbursement] = {}
        self.ledger: list[LedgerEntry] = []
        self.premiums: dict[str, PremiumPayment] = {}
        #: What people paid themselves as flexible workers: id number → month → amount (text).
        self.self_payments: dict[str, dict[str, str]] = {}
        self.messages: list[Message] = []
        self.message_keys: dict[str, Message] = {}
        self.tickets: dict[str, Ticket] = {}
        self.ticket_keys: dict[str, Ticket] = {}
        self.callbacks: list[dict[str, Any]] = []
        self.hotline_orders: dict[str, dict[str, Any]] = {}  # sim/routers/hotline.py
        self._seq: Counter[str] = Counter()

    def changed(self, id_number: str) -> None:
        """Mark a person as changed, so the change is stored (new people are found by themselves)."""
        self.changed_people.add(id_number)

    def snapshot(self) -> dict[str, Any]:
        persons0, employers0, certs0 = self.seeded_keys
        pop = self.pop
        people = (pop.persons.keys() - persons0) | self.changed_people
        return {
            "version": STORE_VERSION,
            "seed": self.seed,
            "size": self.size,
            "as_of": self.as_of,
            "durable": {name: getattr(self, name) for name in DURABLE},
            "persons": {k: pop.persons[k] for k in people if k in pop.persons},
            "employers": {k: pop.employers[k] for k in pop.employers.keys() - employers0},
            "certificates": {k: pop.certificates[k] for k in pop.certificates.keys() - certs0},
            "builder": (self.builder.rng.getstate(), self.builder._registration_seq),
        }

    def _restore(self, stored: dict[str, Any]) -> None:
        for name, value in stored["durable"].items():
            setattr(self, name, value)
        for person in stored["persons"].values():
            self.pop.add_person(person)
        self.pop.employers.update(stored["employers"])
        self.pop.certificates.update(stored["certificates"])
        rng_state, self.builder._registration_seq = stored["builder"]
        self.builder.rng.setstate(rng_state)
        self.changed_people = set(stored["persons"]) & self.seeded_keys[0]

    def save(self) -> None:
        """Store the state now (no-op without a state directory). Synchronous on purpose: no other
        request runs between a change and its storage."""
        if self.store is not None:
            self.store.save(self.snapshot())

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
