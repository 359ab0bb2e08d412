"""Who may call a route, declared in its signature.

Three kinds of principal, never interchangeable (architecture.md): **staff** (roles × region),
**employers** (their own disputes) and **applicants** (signed in through the real-name identity
provider; their own cases). Every route names what it accepts with one of the ``Annotated``
aliases below (``StaffUser``, ``Reviewer``, ``EmployerUser``, ``ApplicantUser``...) or says
``public(...)`` explicitly; each alias carries its ``Policy``, which the authorization matrix test
reads from the app's route table (``policy_of``). One dependency, ``_authenticate``, enforces it:

1. the token (bearer, or the session cookie: then unsafe methods also need the CSRF header);
2. its kind against the policy's kinds (403 ``auth.kind``), the staff role (403 ``auth.role``);
3. revocation: a staff or employer token must still match its account row (active, token
   version, issued after the last password change), read through a cache of at most
   ``REVOCATION_CACHE_SECONDS``, so a deactivated member loses access within a minute.

Case-scoped routes load their case with one dependency per case type (``ClaimFor*``,
``DisputeFor*``, ``PeriodFor*``): the wrong type, or a case outside the caller's scope (region
for staff, their own case for employers and applicants), answers 404 as if it did not exist.
Workflow validators still have the last word on stage, level and separation of duties.

Follows the shape of fastapi's full-stack template (``SessionDep``/``CurrentUser`` aliases
defined once) and Netflix dispatch (a current-case dependency plus permission dependencies)."""

# No ``from __future__ import annotations`` here: the dependency factories below close over
# local dependencies (``Depends(who)``), which FastAPI can only see in evaluated annotations.

import hmac
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.csrf import CSRF_HEADER, check_csrf_pair
from api.deps import SESSION_COOKIE, get_db, get_session, get_settings_dep
from api.errors import ApiError
from core.db import Database
from core.security import Kind, TokenClaims, TokenError, decode_token
from core.settings import Settings
from models.enums import READ_ONLY_ROLES, CaseType, Role
from models.staff import StaffActor
from models.tables import CaseRecord, EmployerAccount, Staff
from policy.regions import dispute_reviewer_regions, is_within

POLICY_ATTR = "__uiflow_policy__"
CASE_SCOPE_ATTR = "__uiflow_case_scope__"  # marks a dependency answering 404 outside the caller's scope
REVOCATION_CACHE_SECONDS = 30.0
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
STAFF_ROLES = frozenset(r for r in Role if r is not Role.EMPLOYER)
# Staff who may see personal data decrypted (timelines, the Temporal Web UI's codec): the audit
# redaction's rule. Operations engineers get redacted timelines, so no decryption either.
DECRYPT_ROLES = tuple(r for r in Role if r not in (Role.EMPLOYER, Role.OPS_ENGINEER))
# Signing out changes nothing but the caller's own session.
# Signing out changes nothing but the caller's own session; the codec only reads (and audits) what
# the Temporal Web UI shows, which auditors are there to read.
READ_ONLY_EXEMPT_PATHS = frozenset({"/console/logout", "/codec/encode", "/codec/decode"})
#: The dev Web UI's codec path (``/codec/ui/<key>/decode``) reads too, whoever's session it carries.
_READ_ONLY_EXEMPT_RE = re.compile(r"^/codec/ui/[^/]+/(encode|decode)$")


def read_only_exempt(path: str) -> bool:
    return path in READ_ONLY_EXEMPT_PATHS or _READ_ONLY_EXEMPT_RE.match(path) is not None


# --- the policy a route declares -------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """The kinds (and, for staff, the roles) a route accepts; or public, with the reason."""

    kinds: frozenset[Kind] = frozenset()
    roles: frozenset[Role] | None = None  # staff roles accepted; None: every staff role
    public: bool = False
    why: str = ""

    def admits(self, kind: Kind | None, roles: Iterable[Role] = ()) -> bool:
        if self.public:
            return True
        if kind is None or kind not in self.kinds:
            return False
        if kind is Kind.STAFF and self.roles is not None:
            held = set(roles)
            return bool(held & self.roles) or Role.ADMIN in held
        return True


def public(why: str) -> Any:
    """Declare a route open to anyone (health, sign-in, a callback that checks its own signature).
    Use as ``dependencies=[public("...")]``, so it is visible in the signature."""

    async def _public() -> None:
        return None

    setattr(_public, POLICY_ATTR, Policy(public=True, why=why))
    return Depends(_public)


def effective_routes(routes: Iterable[Any]) -> Iterator[Any]:
    """Every route as served, descending into included routers (FastAPI keeps them lazily as
    ``_IncludedRouter``; each effective route carries the merged dependencies and full path)."""
    for r in routes:
        if hasattr(r, "effective_candidates"):
            yield from effective_routes(r.effective_candidates())
        else:
            yield r


def policy_of(route: Any) -> Policy | None:
    """The policy a route declares (the first found in its dependency tree, else one declared
    for its endpoint by ``declare_elsewhere``), or None."""

    def walk(dep: Dependant) -> Policy | None:
        found = getattr(dep.call, POLICY_ATTR, None)
        if isinstance(found, Policy):
            return found
        for sub in dep.dependencies:
            p = walk(sub)
            if p is not None:
                return p
        return None

    found = walk(route.dependant) if getattr(route, "dependant", None) is not None else None
    if found is None:
        declared = getattr(route.endpoint, POLICY_ATTR, None)
        found = declared if isinstance(declared, Policy) else None
    return found


# Routers whose every route shares one policy, declared where the app includes them.
ROUTER_POLICIES: dict[str, tuple[Any, ...]] = {}  # filled below, once the aliases exist

# Routes of modules whose signatures belong to other work: their policy is declared here by
# endpoint name (what each module checks itself), and the matrix test holds them to it.
DECLARED_ELSEWHERE: dict[str, dict[str, Policy]] = {
    "api.routes.codec": {
        "ui_encode": Policy(public=True, why="Temporal Web UI: the secret path key is checked in the module"),
        "ui_decode": Policy(public=True, why="Temporal Web UI: the secret path key is checked in the module"),
    },
    "api.routes.callbacks": {
        "gov_callback": Policy(
            public=True, why="signed government callback: the module checks the signature"
        ),
    },
}

# Paths served outside FastAPI's route functions (the docs, the console's static files).
PUBLIC_PATHS = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/console/static"})


def scoped_to_case(route: Any) -> bool:
    """Whether the route loads a case (or a case's document) through a scope-checking dependency."""

    def walk(dep: Dependant) -> bool:
        return bool(getattr(dep.call, CASE_SCOPE_ATTR, False)) or any(walk(d) for d in dep.dependencies)

    return walk(route.dependant)


def undeclared_routes(routes: Iterable[Any]) -> list[str]:
    """Every route of an app that declares no policy (for the authorization matrix test)."""
    missing: list[str] = []
    for r in effective_routes(routes):
        if getattr(r, "dependant", None) is not None:
            if policy_of(r) is None:
                missing.append(f"{sorted(r.methods)} {r.path}")
        elif getattr(r, "path", None) not in PUBLIC_PATHS:
            missing.append(f"{type(r).__name__} {getattr(r, 'path', r)}")
    return missing


def declare_elsewhere(module_name: str, module: Any) -> None:
    for endpoint, policy in DECLARED_ELSEWHERE.get(module_name, {}).items():
        setattr(getattr(module, endpoint), POLICY_ATTR, policy)


# --- who is calling --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    """The verified caller. ``subject`` is the staff login, the employer's credit code, or the
    applicant key (never an ID number)."""

    kind: Kind
    subject: str
    name: str
    region_code: str
    roles: tuple[Role, ...] = ()
    applicant_key: str | None = None
    via_cookie: bool = field(default=False, compare=False)

    def staff_actor(self) -> StaffActor:
        return StaffActor(
            login=self.subject,
            name=self.name,
            roles=list(self.roles),
            region_code=self.region_code,
            applicant_key=self.applicant_key,
        )


def _token_from(request: Request) -> tuple[str | None, bool]:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip(), False
    token = request.cookies.get(SESSION_COOKIE)
    return token, token is not None


@dataclass
class _AccountState:
    active: bool
    version: int
    valid_after: float | None  # epoch seconds of the last password change
    read_at: float


async def _account_state(request: Request, db: Database, kind: Kind, subject: str) -> _AccountState | None:
    cache: dict[tuple[Kind, str], _AccountState] = request.app.state.__dict__.setdefault(
        "account_state_cache", {}
    )
    now = time.monotonic()
    hit = cache.get((kind, subject))
    if hit is not None and now - hit.read_at < REVOCATION_CACHE_SECONDS:
        return hit
    async with db.session() as s:
        if kind is Kind.STAFF:
            row: Staff | EmployerAccount | None = (
                await s.exec(select(Staff).where(Staff.login == subject))
            ).first()
        else:
            row = await s.get(EmployerAccount, subject)
    if row is None:
        cache.pop((kind, subject), None)
        return None
    changed = row.password_changed_at
    state = _AccountState(
        active=row.active,
        version=row.token_version,
        valid_after=changed.timestamp() if changed is not None else None,
        read_at=now,
    )
    cache[(kind, subject)] = state
    return state


def forget_account(request: Request, kind: Kind, subject: str) -> None:
    """Drop the cached account state at once (this process): after a deactivation or a password
    change made through this API."""
    request.app.state.__dict__.setdefault("account_state_cache", {}).pop((kind, subject), None)


async def _not_revoked(request: Request, db: Database, claims: TokenClaims) -> None:
    if claims.kind is Kind.APPLICANT:
        return  # short-lived session from the identity provider; nothing to deactivate here
    state = await _account_state(request, db, claims.kind, claims.login)
    issued = claims.issued_at.timestamp() if claims.issued_at else 0.0
    if (
        state is None
        or not state.active
        or claims.version != state.version
        or (state.valid_after is not None and issued + 1 < state.valid_after)
    ):
        raise ApiError(
            401, "auth.revoked", "登录凭证已失效，请重新登录", headers={"WWW-Authenticate": "Bearer"}
        )


async def refuse_read_only_writes(
    request: Request, settings: Annotated[Settings, Depends(get_settings_dep)]
) -> None:
    """App-wide guard: a read-only role (auditor) may not write anything, on any route, public
    ones included. Runs before the route's own dependencies and body validation, so the refusal
    is always this one."""
    if request.method in SAFE_METHODS or read_only_exempt(request.url.path):
        return
    token, _ = _token_from(request)
    if not token:
        return
    try:
        claims = decode_token(settings, token)
    except TokenError:
        return  # the route's own authentication reports a bad token
    if claims.roles and all(r in {x.value for x in READ_ONLY_ROLES} for r in claims.roles):
        raise ApiError(403, "auth.read_only", "审计角色只能查看，不能修改任何数据")


async def _authenticate(request: Request, settings: Settings, db: Database) -> Principal | None:
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    token, via_cookie = _token_from(request)
    if not token:
        return None
    try:
        claims = decode_token(settings, token, kinds=tuple(Kind))
    except TokenError as e:
        raise ApiError(401, e.code, e.message_zh, headers={"WWW-Authenticate": "Bearer"}) from e
    await _not_revoked(request, db, claims)
    roles = tuple(Role(r) for r in claims.roles if r in Role._value2member_map_)
    if claims.kind is not Kind.STAFF:
        roles = ()  # only staff hold staff roles, whatever a token says
    p = Principal(
        kind=claims.kind,
        subject=claims.login,
        name=claims.name,
        region_code=claims.region_code,
        roles=roles,
        applicant_key=claims.applicant_key,
        via_cookie=via_cookie,
    )
    if (
        via_cookie
        and request.method not in SAFE_METHODS
        and not getattr(request.state, "csrf_checked", False)
    ):
        check_csrf_pair(request, settings, p.subject, request.headers.get(CSRF_HEADER))
    if (
        request.method not in SAFE_METHODS
        and not read_only_exempt(request.url.path)
        and roles
        and all(r in READ_ONLY_ROLES for r in roles)
    ):
        raise ApiError(403, "auth.read_only", "审计角色只能查看，不能修改任何数据")
    request.state.principal = p
    return p


PrincipalDep = Callable[..., Awaitable[Principal]]


def allow(*kinds: Kind, roles: Iterable[Role] | None = None) -> PrincipalDep:
    """A dependency admitting ``kinds`` (and, for staff, one of ``roles``; admin always)."""
    policy = Policy(kinds=frozenset(kinds), roles=frozenset(roles) if roles is not None else None)

    async def _principal(
        request: Request,
        settings: Annotated[Settings, Depends(get_settings_dep)],
        db: Annotated[Database, Depends(get_db)],
    ) -> Principal:
        p = await _authenticate(request, settings, db)
        if p is None:
            raise ApiError(401, "auth.required", "请先登录", headers={"WWW-Authenticate": "Bearer"})
        if p.kind not in policy.kinds:
            raise ApiError(403, "auth.kind", "此登录身份不能办理该业务")
        if not policy.admits(p.kind, p.roles):
            labels = "、".join(r.label for r in sorted(policy.roles or ()))
            raise ApiError(403, "auth.role", f"需要以下角色之一：{labels}")
        return p

    setattr(_principal, POLICY_ATTR, policy)
    return _principal


def staff(*roles: Role) -> Callable[..., Awaitable[StaffActor]]:
    """A staff member (any staff role when ``roles`` is empty) as the ``StaffActor`` the
    workflows' validators take."""
    who = allow(Kind.STAFF, roles=roles or None)

    async def _staff(p: Annotated[Principal, Depends(who)]) -> StaffActor:
        return p.staff_actor()

    return _staff


async def peek_principal(request: Request) -> Principal | None:
    """The caller if signed in, without enforcing a policy (for page headers and error pages).
    Not a route dependency: it declares nothing."""
    try:
        return await _authenticate(request, request.app.state.settings, request.app.state.db)
    except ApiError:
        return None


# --- kinds and roles, defined once ------------------------------------------------------------------

_any_staff = staff()
_reviewer = staff(Role.REVIEWER)
_dispute_reviewer = staff(Role.REVIEWER, Role.SECOND_REVIEWER, Role.FINAL_REVIEWER)
_clerk = staff(Role.INTAKE_CLERK)
_assigner = staff(Role.REVIEWER, Role.SUPERVISOR)
_supervisor = staff(Role.SUPERVISOR)
_operations = staff(Role.OPS_ENGINEER)
_inspector = staff(Role.RISK_INSPECTOR)
_auditor = staff(Role.AUDITOR, Role.SUPERVISOR)
_supervisor_view = staff(Role.SUPERVISOR, Role.AUDITOR)
_decryptor = staff(*DECRYPT_ROLES)
_risk_staff = staff(Role.RISK_INSPECTOR, Role.SUPERVISOR)  # risk control: inspectors and supervisors
_employer = allow(Kind.EMPLOYER)
_applicant = allow(Kind.APPLICANT)
_clerk_or_applicant = allow(Kind.STAFF, Kind.APPLICANT, roles=[Role.INTAKE_CLERK])
_staff_or_employer = allow(Kind.STAFF, Kind.EMPLOYER)
_dispute_reader = allow(Kind.STAFF, Kind.EMPLOYER)
_uploader = allow(Kind.STAFF, Kind.EMPLOYER, Kind.APPLICANT, roles=[Role.INTAKE_CLERK])

StaffUser = Annotated[StaffActor, Depends(_any_staff)]
Reviewer = Annotated[StaffActor, Depends(_reviewer)]
DisputeReviewer = Annotated[StaffActor, Depends(_dispute_reviewer)]
Clerk = Annotated[StaffActor, Depends(_clerk)]
Assigner = Annotated[StaffActor, Depends(_assigner)]
Supervisor = Annotated[StaffActor, Depends(_supervisor)]
SupervisorView = Annotated[StaffActor, Depends(_supervisor_view)]
Operations = Annotated[StaffActor, Depends(_operations)]
Inspector = Annotated[StaffActor, Depends(_inspector)]
RiskStaff = Annotated[StaffActor, Depends(_risk_staff)]
AuditReader = Annotated[StaffActor, Depends(_auditor)]
Decryptor = Annotated[StaffActor, Depends(_decryptor)]
ApplicantUser = Annotated[Principal, Depends(_applicant)]
ClerkOrApplicant = Annotated[Principal, Depends(_clerk_or_applicant)]
Uploader = Annotated[Principal, Depends(_uploader)]
StaffOrEmployer = Annotated[Principal, Depends(_staff_or_employer)]


async def _employer_account(
    p: Annotated[Principal, Depends(_employer)],
    session: Annotated[AsyncSession, Depends(get_session)],
) -> tuple[StaffActor, EmployerAccount]:
    account = await session.get(EmployerAccount, p.subject)
    if account is None or not account.active:
        raise ApiError(403, "auth.inactive", "该单位账号已停用，请联系经办机构")
    actor = StaffActor(login=p.subject, name=p.name, roles=[Role.EMPLOYER], region_code=p.region_code)
    return actor, account


EmployerUser = Annotated[tuple[StaffActor, EmployerAccount], Depends(_employer_account)]


ROUTER_POLICIES["api.routes.policy"] = (Depends(_any_staff),)  # the staff calculators


# --- one dependency per case type: load, check the type and the caller's scope ----------------------


def in_scope(p: Principal, row: CaseRecord) -> bool:
    """Whether ``p`` may see the case at all (outside it, the case does not exist for them)."""
    if p.kind is Kind.APPLICANT:
        return p.applicant_key is not None and hmac.compare_digest(p.applicant_key, row.applicant_key)
    if p.kind is Kind.EMPLOYER:
        return row.case_type == CaseType.STOP_REASON_DISPUTE.value and row.employer_credit_code == p.subject
    if is_within(p.region_code, row.region_code):
        return True
    if row.case_type == CaseType.STOP_REASON_DISPUTE.value:  # higher levels review from elsewhere
        return any(
            p.region_code in dispute_reviewer_regions(row.region_code, lv)
            for lv in ("initial", "second", "final")
        )
    return False


def case_of(
    case_types: Iterable[CaseType],
    who: Callable[..., Awaitable[Any]],
    param: str,
    *,
    acting: bool = False,
) -> Any:
    """The dependency loading the case named by path parameter ``param``, for callers ``who``
    admits, answering 404 for another type or a case outside their scope. ``acting``: the caller
    changes the case, so a staff member who is its applicant is refused (recusal, 403); the
    workflow validators check it again. A case's row exists when its create route answers (a
    service request's intake writes it before answering: ``api/routes/service_requests.py``)."""
    types = frozenset(t.value for t in case_types)
    label = "未找到该案件" if len(types) > 1 else f"未找到该{CaseType(next(iter(types))).label}案件"

    async def _case(
        request: Request,
        _who: Annotated[Any, Depends(who)],
        session: Annotated[AsyncSession, Depends(get_session)],
    ) -> CaseRecord:
        p: Principal = request.state.principal
        case_id = str(request.path_params.get(param, ""))
        row = await session.get(CaseRecord, case_id) if len(case_id) <= 128 else None
        if row is None or row.case_type not in types or not in_scope(p, row):
            raise ApiError(404, "case.not_found", label)
        if (
            acting
            and p.kind is Kind.STAFF
            and p.applicant_key
            and hmac.compare_digest(p.applicant_key, row.applicant_key)
        ):
            raise ApiError(403, "auth.own_case", "不能办理与本人有关的案件（回避）")
        return row

    setattr(_case, CASE_SCOPE_ATTR, True)
    return Depends(_case)


_CLAIM = [CaseType.BENEFIT_CLAIM]
_DISPUTE = [CaseType.STOP_REASON_DISPUTE]
_PERIOD = [CaseType.BENEFIT_PERIOD]

ClaimForStaff = Annotated[CaseRecord, case_of(_CLAIM, _any_staff, "case_id")]
ClaimForReviewer = Annotated[CaseRecord, case_of(_CLAIM, _reviewer, "case_id", acting=True)]
ClaimForAssigner = Annotated[CaseRecord, case_of(_CLAIM, _assigner, "case_id", acting=True)]
ClaimForOperations = Annotated[CaseRecord, case_of(_CLAIM, _operations, "case_id", acting=True)]
ClaimForClerkOrApplicant = Annotated[CaseRecord, case_of(_CLAIM, _clerk_or_applicant, "case_id", acting=True)]
ClaimForClerk = Annotated[CaseRecord, case_of(_CLAIM, _clerk, "case_id", acting=True)]
DisputeForReader = Annotated[CaseRecord, case_of(_DISPUTE, _dispute_reader, "dispute_id")]
DisputeForReviewer = Annotated[CaseRecord, case_of(_DISPUTE, _dispute_reviewer, "dispute_id", acting=True)]
PeriodForStaff = Annotated[CaseRecord, case_of(_PERIOD, _any_staff, "period_id")]
DisputeForConsoleReviewer = Annotated[
    CaseRecord, case_of(_DISPUTE, _dispute_reviewer, "case_id", acting=True)
]
ClaimForInspector = Annotated[CaseRecord, case_of(_CLAIM, _inspector, "case_id", acting=True)]
_VERIFICATION = [CaseType.RISK_CHECK]
VerificationForRiskStaff = Annotated[CaseRecord, case_of(_VERIFICATION, _risk_staff, "case_id")]
VerificationForInspector = Annotated[CaseRecord, case_of(_VERIFICATION, _inspector, "case_id", acting=True)]
VerificationForSupervisor = Annotated[CaseRecord, case_of(_VERIFICATION, _supervisor, "case_id", acting=True)]
VerificationForRepayment = Annotated[CaseRecord, case_of(_VERIFICATION, _risk_staff, "case_id", acting=True)]
_REQUEST = [CaseType.COMPLAINT]
_request_handler = staff(Role.INTAKE_CLERK, Role.REVIEWER, Role.SUPERVISOR)  # the workflow's HANDLER_ROLES
RequestForStaff = Annotated[CaseRecord, case_of(_REQUEST, _any_staff, "case_id")]
RequestForHandler = Annotated[CaseRecord, case_of(_REQUEST, _request_handler, "case_id")]
# The console's case page serves every type.
AnyCaseForStaff = Annotated[CaseRecord, case_of(list(CaseType), _any_staff, "case_id")]
# The person's own case of any type (their notices).
AnyCaseForApplicant = Annotated[CaseRecord, case_of(list(CaseType), _applicant, "case_id")]

__all__ = [
    "POLICY_ATTR",
    "Policy",
    "Principal",
    "allow",
    "case_of",
    "in_scope",
    "policy_of",
    "public",
    "staff",
]


# --- the benefit period's staff operations (issue 14 item 1) -----------------------------------------

_period_stopper = staff(Role.REVIEWER, Role.SUPERVISOR)  # stop, transfer
_period_holder = staff(Role.REVIEWER, Role.RISK_INSPECTOR, Role.SUPERVISOR)  # suspend, resume
_period_account = staff(Role.INTAKE_CLERK, Role.REVIEWER, Role.SUPERVISOR)  # change of account
_period_counter = staff(Role.INTAKE_CLERK, Role.REVIEWER)  # applications taken at the counter

PeriodStopper = Annotated[StaffActor, Depends(_period_stopper)]
PeriodHolder = Annotated[StaffActor, Depends(_period_holder)]
PeriodAccountClerk = Annotated[StaffActor, Depends(_period_account)]
PeriodCounter = Annotated[StaffActor, Depends(_period_counter)]
PeriodForStopper = Annotated[CaseRecord, case_of(_PERIOD, _period_stopper, "period_id", acting=True)]
PeriodForHolder = Annotated[CaseRecord, case_of(_PERIOD, _period_holder, "period_id", acting=True)]
PeriodForAccount = Annotated[CaseRecord, case_of(_PERIOD, _period_account, "period_id", acting=True)]
PeriodForCounter = Annotated[CaseRecord, case_of(_PERIOD, _period_counter, "period_id", acting=True)]
