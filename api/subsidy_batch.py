"""An employer's batch of internal-evaluation certificates (CSV or form rows), validated row by row.

Why here and not in the workflow: a bad row must be reported to the employer at once with its line
and a Chinese reason, and never start a case; only valid rows become cases. Every row is checked
(no stop at the first error) so one filing shows everything to fix."""

from __future__ import annotations

import csv
import io
from datetime import date

from pydantic import BaseModel, Field, ValidationError

from models.person import DocumentRef
from models.rules import ApplicantKind, CertificateLevel
from models.skill_subsidy import SubsidyApplication
from policy.identity import IdentityError, parse_resident_id

COLUMNS = (
    "id_number",
    "name",
    "phone",
    "bank_account",
    "cert_no",
    "occupation_code",
    "occupation",
    "level",
    "issued_on",
)
LEVELS = {
    "junior": CertificateLevel.JUNIOR,
    "初级": CertificateLevel.JUNIOR,
    "五级": CertificateLevel.JUNIOR,
    "intermediate": CertificateLevel.INTERMEDIATE,
    "中级": CertificateLevel.INTERMEDIATE,
    "四级": CertificateLevel.INTERMEDIATE,
    "senior": CertificateLevel.SENIOR,
    "高级": CertificateLevel.SENIOR,
    "三级": CertificateLevel.SENIOR,
}
FIELD_ZH = {
    "id_number": "身份证号码",
    "name": "姓名",
    "phone": "手机号码",
    "bank_account": "银行账号",
    "cert_no": "证书编号",
    "occupation_code": "职业（工种）编码",
    "occupation": "职业（工种）名称",
    "level": "证书等级",
    "issued_on": "核发日期",
}
MAX_ROWS = 500


class BatchRowIn(BaseModel):
    """One row as filed (all text, as a CSV gives it)."""

    id_number: str = ""
    name: str = ""
    phone: str = ""
    bank_account: str = ""
    cert_no: str = ""
    occupation_code: str = ""
    occupation: str = ""
    level: str = ""
    issued_on: str = ""


class BatchIn(BaseModel):
    """Rows as a form (``rows``) or a CSV text with the header line (``csv``), and the one stamped
    证岗相适 statement the employer files for all of them."""

    fit_statement: DocumentRef
    rows: list[BatchRowIn] = Field(default_factory=list, max_length=MAX_ROWS)
    csv: str | None = Field(default=None, max_length=500_000)


class RowResult(BaseModel):
    line: int
    cert_no: str
    application: SubsidyApplication | None = None
    error_zh: str | None = None


def rows_of(body: BatchIn) -> list[tuple[int, BatchRowIn]]:
    """The rows with their line numbers (a CSV's header is line 1, so its first row is line 2)."""
    if body.csv is None:
        return [(i, r) for i, r in enumerate(body.rows, start=1)]
    reader = csv.DictReader(io.StringIO(body.csv.lstrip("\ufeff")))
    out = []
    for i, raw in enumerate(reader, start=2):
        out.append((i, BatchRowIn(**{k: (raw.get(k) or "").strip() for k in COLUMNS})))
    return out


def validate_row(
    line: int,
    row: BatchRowIn,
    *,
    region_code: str,
    employer_credit_code: str,
    fit: DocumentRef,
    today: date,
    seen: set[str],
) -> RowResult:
    cert_no = row.cert_no.strip().upper()
    problems: list[str] = []
    try:
        parse_resident_id(row.id_number.strip())
    except IdentityError as e:
        problems.append(e.message_zh)
    level = LEVELS.get(row.level.strip().lower())
    if level is None:
        problems.append("证书等级应为初级、中级或高级")
    issued: date | None = None
    try:
        issued = date.fromisoformat(row.issued_on.strip())
        if issued > today:
            problems.append("核发日期晚于今天")
    except ValueError:
        problems.append("核发日期格式应为YYYY-MM-DD")
    if cert_no and cert_no in seen:
        problems.append("证书编号在本批次中重复")
    app: SubsidyApplication | None = None
    if not problems:
        try:
            app = SubsidyApplication(
                id_number=row.id_number.strip(),
                name=row.name,
                phone=row.phone,
                applicant_kind=ApplicantKind.INSURED_EMPLOYEE,
                region_code=region_code,
                cert_no=cert_no,
                occupation_code=row.occupation_code.strip(),
                occupation=row.occupation.strip(),
                level=level,  # type: ignore[arg-type]
                issued_on=issued,  # type: ignore[arg-type]
                bank_account=row.bank_account,
                employer_credit_code=employer_credit_code,
                fit_statement=fit,
            )
        except ValidationError as e:
            for err in e.errors():
                name = FIELD_ZH.get(str(err["loc"][0]) if err["loc"] else "", "字段")
                problems.append(f"{name}不正确")
    if cert_no:
        seen.add(cert_no)
    if problems:
        return RowResult(line=line, cert_no=cert_no, error_zh=f"第{line}行：" + "；".join(problems))
    return RowResult(line=line, cert_no=cert_no, application=app)
