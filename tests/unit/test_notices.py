"""Each notice template, rendered to a real PDF and read back with pypdf: the title, the amounts
and dates it must state, the remedies on every refusal (行政复议 within 60 days, 行政诉讼 within 6
months, and where), the agency, the case number and the check code; the CJK font embedded as a
subset (the file stays small); the same request renders the same bytes."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pypdf import PdfReader

from activities.notices import TEMPLATES, MissingFact, build_notice, check_code
from models.notice import ADVERSE_KINDS, CHECK_CODE_PATTERN, NoticeKind, NoticeRequest, NoticeRow, month_rows
from models.rules import YearMonth

SECRET = "s" * 32
BASE = "https://ui.example.gov.cn"
AT = datetime(2026, 11, 30, 2, 30, tzinfo=UTC)  # 2026-11-30 10:30 in Beijing


def _req(
    kind: NoticeKind, facts: dict[str, str], rows: list[NoticeRow] | None = None, **over: str
) -> NoticeRequest:
    return NoticeRequest(
        case_id=over.get("case_id", "claim-150102-0123456789abcdef01234567-1"),
        issue_key=over.get("issue_key", f"test:{kind.value}"),
        kind=kind,
        region_code=over.get("region_code", "150102"),
        issued_at=AT,
        person_name="乌云其其格",
        person_id_masked="150102********1237",
        facts=facts,
        rows=rows or [],
    )


def _text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    # pypdf separates CJK glyphs (with NULs and spaces); the assertions read the text as printed.
    return "".join("".join(p.extract_text().replace("\x00", "").split()) for p in reader.pages)


def _fonts(data: bytes) -> list[dict[str, object]]:
    reader = PdfReader(io.BytesIO(data))
    out = []
    for page in reader.pages:
        for f in page["/Resources"]["/Font"].values():
            font = f.get_object()
            desc = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
            out.append(
                {
                    "name": str(font["/BaseFont"]),
                    "embedded": any(k in desc for k in ("/FontFile2", "/FontFile3")),
                }
            )
    return out


FACTS: dict[NoticeKind, tuple[dict[str, str], list[NoticeRow]]] = {
    NoticeKind.CLAIM_RECEIPT: (
        {"received_on": "2026年11月20日", "channel": "服务窗口", "documents": "2份"},
        [],
    ),
    NoticeKind.DOCUMENTS_REQUEST: (
        {"wait_days": "30"},
        [NoticeRow(label="1", value="解除劳动合同证明原件"), NoticeRow(label="2", value="银行卡复印件")],
    ),
    NoticeKind.CLAIM_NOT_APPROVED: (
        {
            "received_on": "2026年11月20日",
            "reason": "不符合非因本人意愿中断就业条件",
            "remedy": "可由原单位申请变更停保原因。",
            "reapply_days": "60",
        },
        [],
    ),
    NoticeKind.CLAIM_NOT_ACCEPTED: (
        {"received_on": "2026年10月20日", "reason": "自申请之日起30日内未查到您的失业登记"},
        [],
    ),
    NoticeKind.BENEFIT_APPROVED: (
        {
            "received_on": "2026年11月20日",
            "contribution_months": "75",
            "months": "18",
            "first_month": "2026年12月",
            "last_month": "2028年5月",
        },
        month_rows(
            [(YearMonth(2026, 12) + i, Decimal("2142.00")) for i in range(12)]
            + [(YearMonth(2027, 12) + i, Decimal("1904.00")) for i in range(6)]
        ),
    ),
    NoticeKind.BENEFIT_STOPPED: (
        {
            "reason": "重新就业",
            "on": "2027年3月5日",
            "legal_basis": "《失业保险条例》第十五条",
            "from_month": "2027年04月",
            "months_left": "14",
        },
        [],
    ),
    NoticeKind.SUBSIDY_APPROVED: (
        {
            "applied_on": "2026年11月2日",
            "amount": "1500.00",
            "certificate": "S000015010200123",
            "occupation": "电工",
            "level": "中级（四级）",
        },
        [],
    ),
    NoticeKind.SUBSIDY_NOT_APPROVED: (
        {"applied_on": "2026年11月2日", "reason": "证书在技能人才评价工作网查询不到", "certificate": "S0001"},
        [],
    ),
    NoticeKind.REFUND_RECEIPT: (
        {
            "received_on": "2027年1月10日",
            "channel": "服务窗口",
            "basis": "医保缴费年度结束后申请，2026年度",
            "months": "2026年3月406.20元、2026年4月420.00元",
            "receipts": "2",
        },
        [],
    ),
    NoticeKind.REFUND_APPROVED: (
        {"applied_on": "2027年1月10日", "amount": "812.40"},
        [NoticeRow(label="2026年3月", value="406.20元"), NoticeRow(label="2026年4月", value="406.20元")],
    ),
    NoticeKind.REFUND_NOT_APPROVED: (
        {
            "applied_on": "2027年1月10日",
            "reason": "未提供本人实际缴费的票据",
            "remedy": "请携带缴费票据到窗口补交",
            "reapply_days": "60",
        },
        [],
    ),
}

EXPECTED: dict[NoticeKind, list[str]] = {
    NoticeKind.CLAIM_RECEIPT: ["本机构已受理", "10个工作日内审核完毕", "2026年11月20日", "2份"],
    NoticeKind.DOCUMENTS_REQUEST: ["一次性告知", "解除劳动合同证明原件", "银行卡复印件", "30日内"],
    NoticeKind.CLAIM_NOT_APPROVED: ["不予核准", "不符合非因本人意愿中断就业条件", "60日内重新申请"],
    NoticeKind.CLAIM_NOT_ACCEPTED: ["不予受理", "30日内未查到您的失业登记"],
    NoticeKind.BENEFIT_APPROVED: [
        "75个月",
        "失业保险金18个月",
        "自2026年12月起至2028年5月止",
        "2026年12月至2027年11月（12个月）2142.00元",
        "2027年12月至2028年5月（6个月）1904.00元",
    ],
    NoticeKind.BENEFIT_STOPPED: ["重新就业", "自2027年04月起停止发放", "14个月"],
    NoticeKind.SUBSIDY_APPROVED: ["核定补贴金额1500.00元", "S000015010200123", "电工", "中级（四级）"],
    NoticeKind.SUBSIDY_NOT_APPROVED: ["不予核准", "证书在技能人才评价工作网查询不到"],
    NoticeKind.REFUND_RECEIPT: ["本机构已受理", "2026年度", "2026年4月420.00元", "2份", "较低者"],
    NoticeKind.REFUND_APPROVED: ["核定返还812.40元", "2026年3月406.20元"],
    NoticeKind.REFUND_NOT_APPROVED: [
        "不予返还",
        "未提供本人实际缴费的票据",
        "处置方式：请携带缴费票据到窗口补交",
        "60日内重新申请",
    ],
}

REMEDIES = [
    "60日内向呼和浩特市新城区人民政府申请行政复议",
    "6个月内向呼和浩特市新城区所在地有管辖权的人民法院提起行政诉讼",
]


def test_every_kind_has_a_template_and_a_case_here() -> None:
    assert set(TEMPLATES) == set(NoticeKind) == set(FACTS) == set(EXPECTED)


@pytest.mark.parametrize("kind", list(NoticeKind), ids=lambda k: k.value)
def test_template_prints_its_facts_the_agency_the_case_and_the_check_code(kind: NoticeKind) -> None:
    facts, rows = FACTS[kind]
    data, layout = build_notice(_req(kind, facts, rows), secret=SECRET, base_url=BASE)
    text = _text(data)
    assert data.startswith(b"%PDF-")
    assert kind.label_zh in text
    for needle in EXPECTED[kind]:
        assert needle in text, (needle, text)
    assert "呼和浩特市新城区社会保险事业服务中心" in text
    assert "乌云其其格" in text and "150102********1237" in text
    assert "2026年11月30日" in text  # the local issuing day
    assert "claim-150102-0123456789abcdef01234567-1" in text
    assert layout.check_code in text and layout.notice_no in text
    assert layout.notice_no.startswith("150102-20261130-")
    assert "12333" in text
    # Every refusal (and the stop) tells the person their rights and where to go; others do not.
    for needle in REMEDIES:
        assert (needle in text) is (kind in ADVERSE_KINDS), (needle, kind)


def test_the_font_is_embedded_as_a_subset_and_the_file_stays_small() -> None:
    facts, rows = FACTS[NoticeKind.BENEFIT_APPROVED]
    data, _ = build_notice(_req(NoticeKind.BENEFIT_APPROVED, facts, rows), secret=SECRET, base_url=BASE)
    fonts = _fonts(data)
    assert fonts and all(f["embedded"] for f in fonts)
    # A subset's name carries a six-letter tag (ABCDEF+Name); the whole collection is 25 MB.
    assert all("+" in str(f["name"]) and "CJK" in str(f["name"]) for f in fonts)
    assert len(data) < 150_000


def test_same_request_renders_the_same_bytes() -> None:
    facts, rows = FACTS[NoticeKind.CLAIM_NOT_APPROVED]
    req = _req(NoticeKind.CLAIM_NOT_APPROVED, facts, rows)
    a, _ = build_notice(req, secret=SECRET, base_url=BASE)
    b, _ = build_notice(req, secret=SECRET, base_url=BASE)
    assert a == b


def test_the_recorded_layout_renders_the_bytes_the_request_renders() -> None:
    """The case records the worded layout (a JSON snapshot) and the PDF is made later from it: the
    snapshot must round-trip to exactly the document rendering at once would have made."""
    from core.notice_pdf import find_font, render
    from core.notice_store import layout_from_json, layout_json

    facts, rows = FACTS[NoticeKind.BENEFIT_APPROVED]
    req = _req(NoticeKind.BENEFIT_APPROVED, facts, rows)
    now, layout = build_notice(req, secret=SECRET, base_url=BASE)
    snapshot = layout_json(layout)
    assert layout_from_json(snapshot) == layout and layout_json(layout_from_json(snapshot)) == snapshot
    assert render(layout_from_json(snapshot), find_font()) == now


def test_check_code_is_stable_per_step_and_differs_between_steps_and_secrets() -> None:
    import re

    one = check_code(SECRET, "claim-x-1", "r1:rejected")
    assert re.match(CHECK_CODE_PATTERN, one)
    assert one == check_code(SECRET, "claim-x-1", "r1:rejected")
    assert one != check_code(SECRET, "claim-x-1", "r2:rejected")
    assert one != check_code(SECRET, "claim-x-2", "r1:rejected")
    assert one != check_code("t" * 32, "claim-x-1", "r1:rejected")


def test_a_missing_fact_is_refused_not_printed_blank() -> None:
    with pytest.raises(MissingFact):
        build_notice(
            _req(NoticeKind.CLAIM_NOT_APPROVED, {"received_on": "2026年11月20日"}),
            secret=SECRET,
            base_url=BASE,
        )


def test_remedies_name_the_league_office_for_a_league_case() -> None:
    facts, _ = FACTS[NoticeKind.REFUND_NOT_APPROVED]
    data, _ = build_notice(
        _req(NoticeKind.REFUND_NOT_APPROVED, facts, region_code="152500", case_id="refund-152500-ab-1"),
        secret=SECRET,
        base_url=BASE,
    )
    text = _text(data)
    assert "60日内向锡林郭勒盟行政公署申请行政复议" in text
    assert "锡林郭勒盟社会保险事业服务中心" in text


def test_month_rows_group_consecutive_months_of_one_amount() -> None:
    rows = month_rows(
        [
            (YearMonth(2026, 12), Decimal("2270")),
            (YearMonth(2027, 1), Decimal("2270")),
            (YearMonth(2027, 2), Decimal("2380")),
        ]
    )
    assert [(r.label, r.value) for r in rows] == [
        ("2026年12月至2027年1月（2个月）", "2270.00元"),
        ("2027年2月", "2380.00元"),
    ]
