"""The synthetic population behind the simulated government systems.

Everything is derived from one ``random.Random(seed)`` and a reference date, so a test, a demo and
a benchmark that use the same seed see the same people, and a failure can be reproduced. Each person
is drawn for one *scenario* (a path through the benefit rules); the first people of every population
walk through all scenarios once, so even a tiny population exercises every path.

Monthly contribution records are not stored: they are derived from a person's summary (cumulative
months, last consecutive run, gap) when asked for, which keeps building 2,000 people cheap enough
to do in every test.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from policy.identity import make_credit_code, make_resident_id
from policy.regions import REGION_ROOT, Region, descendants, get_region
from sim.catalogue import (
    BANKS,
    BURST_ISSUER,
    CERT_ISSUERS,
    CERTIFICATE_LEVELS,
    ELSEWHERE_PROVINCES,
    EMPLOYER_BRANDS,
    EMPLOYER_TRADES,
    GIVEN_CHARS,
    INVOLUNTARY_CODES,
    OCCUPATIONS,
    OTHER_PROVINCE_ISSUERS,
    RETIREMENT,
    SURNAMES,
    VOLUNTARY_RESIGNATION,
)

Scenario = Literal[
    "eligible",
    "unregistered",
    "voluntary_resignation",
    "short_contributions",
    "short_consecutive",
    "receiving_elsewhere",
    "flexible_medical",
    "near_retirement",
    "receiving_pension",
    "closed_account",
    "mass_separation",
]

#: Share of each scenario, per mille. About 70% are clean claims; the rest each exercise one rule.
SCENARIO_WEIGHTS: dict[str, int] = {
    "eligible": 700,
    "unregistered": 60,
    "voluntary_resignation": 55,
    "short_contributions": 35,
    "short_consecutive": 35,
    "receiving_elsewhere": 25,
    "flexible_medical": 30,
    "near_retirement": 30,
    "receiving_pension": 10,
    "closed_account": 10,
    "mass_separation": 10,
}
SCENARIOS: tuple[str, ...] = tuple(SCENARIO_WEIGHTS)

MedicalStatus = Literal["not_insured", "flexible_worker", "employee"]


class Employer(BaseModel):
    credit_code: str
    name: str
    region: str
    insured_headcount: int
    status: Literal["active", "closed"] = "active"


class Person(BaseModel):
    """One insured person as the government systems together know them. Mutable: the simulated
    systems change registration, stop reason and so on as the case proceeds."""

    id_number: str
    name: str
    sex: Literal["male", "female"]
    birth_date: date
    phone: str
    scenario: str
    insured_region: str
    last_employer: str
    previous_employer: str | None = None
    cumulative_months: int
    last_consecutive_months: int
    gap_months: int = 0
    last_contribution_month: str
    monthly_base: Decimal
    stop_date: date
    stop_reason_code: str
    record_locked: bool = False
    #: Drawn with the population (not made by the admin API): only these are subject to the
    #: configured share of locked records, so a test's exact case is never locked by chance.
    seeded: bool = True
    registered: bool
    registered_on: date | None = None
    registration_no: str | None = None
    registration_channel: Literal["online", "counter"] | None = None
    receiving_elsewhere: bool = False
    elsewhere_province_code: str | None = None
    elsewhere_period_start: date | None = None
    elsewhere_period_end: date | None = None
    medical_status: MedicalStatus = "not_insured"
    pension_receiving: bool = False
    pension_since: date | None = None
    bank_name: str
    account_no: str
    account_status: Literal["active", "closed"] = "active"
    # What the risk scans read (issue 16). None for the people drawn by scenario; set for the seeded
    # anomalies (``seed_anomalies``): who receives since when, a death or a new job while receiving,
    # and the contact details a claim gave (an intermediary's shared address or agent).
    address: str | None = None
    agent: str | None = None
    benefit_since: date | None = None
    died_on: date | None = None
    reemployed_month: str | None = None
    reemployed_on: date | None = None  # the first day of the new job (POST /admin/person-events)
    # 原法定退休年龄类别 as the personnel record holds it (domain.md C2); None: the record has none.
    retirement_category: Literal["male", "female-55", "female-50"] | None = None


class Certificate(BaseModel):
    cert_no: str
    holder_id_number: str
    holder_name: str
    occupation_code: str
    occupation: str
    level: int
    level_label: str
    issued_on: date
    issuer: str
    issuer_region: str


class TrainingSubsidy(BaseModel):
    """A 职业培训补贴 already paid for a certificate: the same certificate cannot also earn a
    skill-upgrade subsidy. Made by the admin API only (the seeded population draws none, so
    existing seeds stay stable)."""

    cert_no: str
    holder_id_number: str
    amount: Decimal
    paid_on: date


class MonthRecord(BaseModel):
    month: str
    paid: bool
    employer_credit_code: str | None = None
    base: Decimal | None = None


class PersonOverrides(BaseModel):
    """What a test may pin when it asks for an exact case (``POST /admin/persons``); anything left
    out is drawn as for the scenario."""

    scenario: str = "eligible"
    name: str | None = None
    sex: Literal["male", "female"] | None = None
    birth_date: date | None = None
    id_region: str | None = Field(default=None, description="division where the ID number was issued")
    insured_region: str | None = None
    phone: str | None = None
    last_employer: str | None = None
    cumulative_months: int | None = Field(default=None, ge=0)
    last_consecutive_months: int | None = Field(default=None, ge=0)
    stop_date: date | None = None
    stop_reason_code: str | None = None
    record_locked: bool | None = None
    registered: bool | None = None
    receiving_elsewhere: bool | None = None
    medical_status: MedicalStatus | None = None
    pension_receiving: bool | None = None
    account_status: Literal["active", "closed"] | None = None
    # "none": the contribution record holds no category (the claim then waits for the clerk's).
    retirement_category: Literal["male", "female-55", "female-50", "none"] | None = None


# --- month arithmetic ----------------------------------------------------------------------------


def month_str(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def add_months(month: str, k: int) -> str:
    y, m = int(month[:4]), int(month[5:7])
    idx = y * 12 + (m - 1) + k
    return f"{idx // 12:04d}-{idx % 12 + 1:02d}"


def monthly_records(person: Person, as_of: date, window: int = 36) -> list[MonthRecord]:
    """The last ``window`` months up to ``as_of``'s month, oldest first, derived from the summary:
    the last run of consecutive months with the last employer, a gap, then earlier months with the
    previous employer until the cumulative total is used up."""
    paid: dict[str, str] = {}
    m = person.last_contribution_month
    for _ in range(min(person.last_consecutive_months, window + 1)):
        paid[m] = person.last_employer
        m = add_months(m, -1)
    remaining = person.cumulative_months - person.last_consecutive_months
    m = add_months(m, -person.gap_months)
    earlier = person.previous_employer or person.last_employer
    for _ in range(min(max(remaining, 0), window + 1)):
        paid[m] = earlier
        m = add_months(m, -1)
    end = month_str(as_of)
    out = []
    for i in range(window - 1, -1, -1):
        month = add_months(end, -i)
        employer = paid.get(month)
        out.append(
            MonthRecord(
                month=month,
                paid=employer is not None,
                employer_credit_code=employer,
                base=person.monthly_base if employer else None,
            )
        )
    return out


# --- generators ----------------------------------------------------------------------------------


def luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_ok(number: str) -> bool:
    return number.isdigit() and len(number) >= 12 and luhn_digit(number[:-1]) == number[-1]


def stable_fraction(seed: int, key: str) -> float:
    """A number in [0, 1) fixed by seed and key, so per-person shares (such as locked records) stay
    the same across restarts without storing them."""
    h = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def county_regions() -> list[Region]:
    return [r for r in descendants(REGION_ROOT) if r.level == "county"]


def league_name(code: str) -> str:
    region = get_region(code)
    parent = region.statistical_parent
    if region.level == "county" and parent and parent != REGION_ROOT:
        return get_region(parent).name
    return region.name


@dataclass
class Population:
    seed: int
    as_of: date
    persons: dict[str, Person] = field(default_factory=dict)
    employers: dict[str, Employer] = field(default_factory=dict)
    certificates: dict[str, Certificate] = field(default_factory=dict)
    training_subsidies: dict[str, TrainingSubsidy] = field(default_factory=dict)
    #: account number -> id number, for the bank
    accounts: dict[str, str] = field(default_factory=dict)
    mass_employer: str = ""
    #: The seeded anomalies the risk scans must find: kind -> id numbers (and the ring's employer).
    anomalies: dict[str, list[str]] = field(default_factory=dict)

    def add_person(self, person: Person) -> None:
        self.persons[person.id_number] = person
        self.accounts[person.account_no] = person.id_number


class PopulationBuilder:
    """Draws people, employers and certificates from one random stream. Kept as an object (not a
    one-shot function) so the admin endpoint can draw exact cases later from a second stream."""

    def __init__(self, pop: Population, rng: random.Random) -> None:
        self.pop = pop
        self.rng = rng
        self.counties = county_regions()
        self._registration_seq = 0

    # names, numbers --------------------------------------------------------------------------

    def _name(self) -> str:
        r = self.rng
        return r.choice(SURNAMES) + "".join(r.choice(GIVEN_CHARS) for _ in range(r.choice((1, 2, 2))))

    def _phone(self) -> str:
        return self.rng.choice(("13", "15", "17", "18", "19")) + f"{self.rng.randrange(10**9):09d}"

    def _account(self) -> tuple[str, str]:
        while True:
            bin_, bank = self.rng.choice(BANKS)
            body = bin_ + f"{self.rng.randrange(10**12):012d}"
            number = body + luhn_digit(body)
            if number not in self.pop.accounts:
                return number, bank

    def _id_number(self, region: str, birth: date, sex: str) -> str:
        for _ in range(2000):
            seq = self.rng.randrange(500) * 2 + (1 if sex == "male" else 0)
            number = make_resident_id(region, birth, seq)
            if number not in self.pop.persons:
                return number
        raise RuntimeError("ran out of ID sequence numbers for one region and birth date")

    def next_registration_no(self, region: str, on: date) -> str:
        self._registration_seq += 1
        return f"DJ{region}{on:%Y%m%d}{self._registration_seq:05d}"

    # employers -------------------------------------------------------------------------------

    def employer(self, *, headcount: int | None = None) -> Employer:
        r = self.rng
        region = r.choice(self.counties).code
        while True:
            code = make_credit_code(region, r.randrange(10**9))
            if code not in self.pop.employers:
                break
        if headcount is None:
            band = r.random()
            headcount = (
                r.randint(5, 30) if band < 0.5 else r.randint(31, 300) if band < 0.9 else r.randint(301, 3000)
            )
        name = league_name(region) + r.choice(EMPLOYER_BRANDS) + r.choice(EMPLOYER_TRADES)
        emp = Employer(credit_code=code, name=name, region=region, insured_headcount=headcount)
        self.pop.employers[code] = emp
        return emp

    # people ----------------------------------------------------------------------------------

    def _birth(self, scenario: str, sex: Literal["male", "female"]) -> date:
        r, as_of = self.rng, self.pop.as_of
        if scenario == "near_retirement":
            # Within about a year of the old statutory age (60 for men, 50 for women workers), so the
            # delayed-retirement transitional rules apply.
            years = 59 if sex == "male" else 49
            days = r.randint(0, 364)
        elif scenario == "receiving_pension":
            years, days = (r.randint(60, 64) if sex == "male" else r.randint(50, 56)), r.randint(0, 364)
        else:
            years = r.randint(20, 57 if sex == "male" else 48)
            days = r.randint(0, 364)
        try:
            anchor = as_of.replace(year=as_of.year - years)
        except ValueError:  # 29 February
            anchor = as_of.replace(year=as_of.year - years, day=28)
        return anchor - timedelta(days=days)

    def person(self, ov: PersonOverrides) -> Person:
        r, as_of = self.rng, self.pop.as_of
        scenario = ov.scenario
        if scenario not in SCENARIO_WEIGHTS:
            raise ValueError(f"unknown scenario {scenario!r}")
        sex: Literal["male", "female"] = ov.sex or ("male" if r.random() < 0.5 else "female")
        birth = ov.birth_date or self._birth(scenario, sex)
        insured = ov.insured_region or r.choice(self.counties).code
        if ov.id_region:
            id_region = ov.id_region
        else:
            roll = r.random()
            id_region = (
                insured
                if roll < 0.9
                else r.choice(self.counties).code
                if roll < 0.95
                else r.choice(OTHER_PROVINCE_ISSUERS)
            )

        if ov.last_employer:
            employer = ov.last_employer
        elif scenario == "mass_separation" and self.pop.mass_employer:
            employer = self.pop.mass_employer
        else:
            employer = r.choice(list(self.pop.employers))
        previous = r.choice(list(self.pop.employers))

        if scenario == "mass_separation":
            # Everyone from the flagged employer left in the same fortnight.
            stop_date = as_of.replace(day=1) - timedelta(days=r.randint(20, 34))
        else:
            stop_date = as_of - timedelta(days=r.randint(10, 80))
        stop_date = ov.stop_date or stop_date

        if scenario == "short_contributions":
            cumulative = r.randint(3, 11)
            consecutive = r.randint(3, cumulative)
        elif scenario == "short_consecutive":
            cumulative = r.randint(14, 120)
            consecutive = r.randint(1, 2)
        elif scenario in ("near_retirement", "receiving_pension"):
            cumulative = r.randint(120, 420)
            consecutive = r.randint(24, min(cumulative, 240))
        else:
            band = r.random()
            cumulative = (
                r.randint(12, 59)
                if band < 0.45
                else r.randint(60, 119)
                if band < 0.75
                else r.randint(120, 360)
            )
            consecutive = r.randint(max(3, cumulative // 3), cumulative)
        # Nobody has contributed for longer than they have been of working age.
        working_months = max(12, (as_of.year - birth.year - 18) * 12)
        if cumulative > working_months and scenario != "short_consecutive":
            cumulative = working_months
            consecutive = min(consecutive, cumulative)
        if ov.cumulative_months is not None:
            cumulative = ov.cumulative_months
            if ov.last_consecutive_months is None:
                consecutive = min(consecutive, cumulative)
        if ov.last_consecutive_months is not None:
            consecutive = ov.last_consecutive_months
            cumulative = max(cumulative, consecutive)
        gap = r.randint(1, 6) if cumulative > consecutive else 0

        if scenario == "voluntary_resignation":
            stop_code = VOLUNTARY_RESIGNATION
        elif scenario == "receiving_pension":
            stop_code = RETIREMENT
        else:
            stop_code = r.choice(INVOLUNTARY_CODES)
        stop_code = ov.stop_reason_code or stop_code

        registered = scenario != "unregistered" if ov.registered is None else ov.registered
        registered_on = registration_no = channel = None
        if registered:
            registered_on = min(as_of, stop_date + timedelta(days=r.randint(1, 10)))
            registration_no = self.next_registration_no(insured, registered_on)
            channel = r.choice(("online", "counter"))

        elsewhere = (
            (scenario == "receiving_elsewhere") if ov.receiving_elsewhere is None else ov.receiving_elsewhere
        )
        prov = start = end = None
        if elsewhere:
            prov = r.choice(list(ELSEWHERE_PROVINCES))
            start = as_of - timedelta(days=r.randint(30, 200))
            end = start + timedelta(days=365)

        medical: MedicalStatus = ov.medical_status or (
            "flexible_worker" if scenario == "flexible_medical" else "not_insured"
        )
        pension = (scenario == "receiving_pension") if ov.pension_receiving is None else ov.pension_receiving
        pension_since = stop_date + timedelta(days=1) if pension else None
        account_no, bank = self._account()
        account_status = ov.account_status or ("closed" if scenario == "closed_account" else "active")

        person = Person(
            id_number=self._id_number(id_region, birth, sex),
            name=ov.name or self._name(),
            sex=sex,
            birth_date=birth,
            phone=ov.phone or self._phone(),
            scenario=scenario,
            insured_region=insured,
            last_employer=employer,
            previous_employer=previous if previous != employer else None,
            cumulative_months=cumulative,
            last_consecutive_months=consecutive,
            gap_months=gap,
            last_contribution_month=month_str(stop_date),
            monthly_base=Decimal(r.randrange(40, 150) * 100).quantize(Decimal("0.01")),
            stop_date=stop_date,
            stop_reason_code=stop_code,
            record_locked=bool(ov.record_locked),
            registered=registered,
            registered_on=registered_on,
            registration_no=registration_no,
            registration_channel=channel,
            receiving_elsewhere=elsewhere,
            elsewhere_province_code=prov,
            elsewhere_period_start=start,
            elsewhere_period_end=end,
            medical_status=medical,
            pension_receiving=pension,
            pension_since=pension_since,
            bank_name=bank,
            account_no=account_no,
            account_status=account_status,
            # Not drawn (the seeded stream stays as it was): men 60, women the 50 group, unless pinned.
            retirement_category=(
                None
                if ov.retirement_category == "none"
                else ov.retirement_category or ("male" if sex == "male" else "female-50")
            ),
        )
        self.pop.add_person(person)
        return person

    # certificates ----------------------------------------------------------------------------

    def certificate(self, holder: Person, *, burst: bool = False) -> Certificate:
        r, as_of = self.rng, self.pop.as_of
        occ_code, occupation = r.choice(OCCUPATIONS)
        level = r.choice((3, 4, 4, 5, 5, 5, 2))
        if burst:
            issuer, issuer_region = BURST_ISSUER, r.choice(OTHER_PROVINCE_ISSUERS)
            issued = as_of - timedelta(days=40 + r.randint(0, 3))
        else:
            issuer, issuer_region = r.choice(CERT_ISSUERS), holder.insured_region
            issued = as_of - timedelta(days=r.randint(15, 700))
        prefix = "S" if r.random() < 0.85 else "Y"
        while True:
            cert_no = f"{prefix}{issuer_region}{issued:%y}{level}{r.randrange(10**8):08d}"
            if cert_no not in self.pop.certificates:
                break
        cert = Certificate(
            cert_no=cert_no,
            holder_id_number=holder.id_number,
            holder_name=holder.name,
            occupation_code=occ_code,
            occupation=occupation,
            level=level,
            level_label=CERTIFICATE_LEVELS[level],
            issued_on=issued,
            issuer=issuer,
            issuer_region=issuer_region,
        )
        self.pop.certificates[cert_no] = cert
        return cert


def build_population(seed: int, size: int, as_of: date) -> tuple[Population, PopulationBuilder]:
    """Draw ``size`` people (and their employers and certificates) from ``seed``.

    The first ``len(SCENARIOS)`` people take each scenario once; the rest are drawn by weight. About
    one person in eight holds a certificate, and a few of those come from an evaluation body that
    issued a burst of certificates outside the region (the notice's item 6 anomaly).
    """
    rng = random.Random(seed)
    pop = Population(seed=seed, as_of=as_of)
    builder = PopulationBuilder(pop, rng)
    for _ in range(max(12, size // 10)):
        builder.employer()
    pop.mass_employer = builder.employer(headcount=rng.randint(12, 20)).credit_code
    names, weights = list(SCENARIO_WEIGHTS), list(SCENARIO_WEIGHTS.values())
    for i in range(size):
        scenario = names[i] if i < len(names) else rng.choices(names, weights)[0]
        person = builder.person(PersonOverrides(scenario=scenario))
        roll = rng.random()
        if roll < 0.12:
            builder.certificate(person, burst=roll < 0.02)
    seed_anomalies(pop, seed)
    return pop, builder


ANOMALY_SCENARIOS = ("fraud_ring", "mass_layoff", "death_while_receiving", "unreported_reemployment")
RING_SIZE = 20
LAYOFF_SIZE = 15
#: People the anomalies add to a population of any size (so ``len(persons) == size + ANOMALY_PEOPLE``).
ANOMALY_PEOPLE = RING_SIZE + LAYOFF_SIZE + 2


def seed_anomalies(pop: Population, seed: int) -> None:
    """What the risk scans must find (issue 16), drawn from a stream of their own after everyone else,
    so the people of an existing seed stay exactly as they were:

    - a fraud ring: an intermediary (one agent, one address, one phone for half of them) with 20
      people insured for 2 months at one small employer, all separating within a week and receiving;
    - a mass layoff: 15 of an employer's 40 insured separating within 5 days, all receiving;
    - a death while receiving (civil-affairs record dated after the benefit started);
    - unreported re-employment (contributions from a new employer while receiving)."""
    rng = random.Random(seed * 7919 + 16)
    b = PopulationBuilder(pop, rng)
    b._registration_seq = 80000  # its own numbers, clear of the main stream's
    as_of = pop.as_of
    ring_employer = b.employer(headcount=22)
    agent = "代办人" + b._name()
    address = "呼和浩特市新城区某小区" + str(rng.randint(1, 30)) + "号楼"
    shared_phone = b._phone()
    ring_stop = as_of - timedelta(days=45)
    ring: list[str] = []
    for i in range(RING_SIZE):
        p = b.person(
            PersonOverrides(
                scenario="eligible",
                last_employer=ring_employer.credit_code,
                cumulative_months=14,
                last_consecutive_months=2,
                stop_date=ring_stop + timedelta(days=rng.randint(0, 6)),
                registered=True,
                phone=shared_phone if i % 2 == 0 else None,
            )
        )
        p.address, p.agent = address, agent
        p.benefit_since = (p.registered_on or p.stop_date) + timedelta(days=7)
        p.scenario = "fraud_ring"
        ring.append(p.id_number)
    layoff_employer = b.employer(headcount=40)
    layoff_stop = as_of - timedelta(days=40)
    layoff: list[str] = []
    for _ in range(LAYOFF_SIZE):
        p = b.person(
            PersonOverrides(
                scenario="eligible",
                last_employer=layoff_employer.credit_code,
                stop_date=layoff_stop + timedelta(days=rng.randint(0, 4)),
                registered=True,
            )
        )
        p.benefit_since = (p.registered_on or p.stop_date) + timedelta(days=7)
        p.scenario = "mass_layoff"
        layoff.append(p.id_number)
    dead = b.person(
        PersonOverrides(scenario="eligible", registered=True, stop_date=as_of - timedelta(days=75))
    )
    dead.benefit_since = (dead.registered_on or dead.stop_date) + timedelta(days=7)
    dead.died_on = as_of - timedelta(days=20)
    dead.scenario = "death_while_receiving"
    back = b.person(
        PersonOverrides(scenario="eligible", registered=True, stop_date=as_of - timedelta(days=75))
    )
    back.benefit_since = (back.registered_on or back.stop_date) + timedelta(days=7)
    back.reemployed_month = month_str(as_of - timedelta(days=31))
    back.scenario = "unreported_reemployment"
    pop.anomalies = {
        "fraud_ring": ring,
        "mass_layoff": layoff,
        "death_while_receiving": [dead.id_number],
        "unreported_reemployment": [back.id_number],
        "ring_employer": [ring_employer.credit_code],
        "layoff_employer": [layoff_employer.credit_code],
    }


def fingerprint(pop: Population) -> str:
    """A digest of the whole population, for tests that prove a seed reproduces it exactly."""
    h = hashlib.sha256()
    for group in (pop.persons, pop.employers, pop.certificates):
        for key in sorted(group):
            h.update(group[key].model_dump_json().encode())
    return h.hexdigest()


def person_view(person: Person) -> dict[str, Any]:
    return person.model_dump(mode="json")
