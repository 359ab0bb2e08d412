"""Person-search keys and the short case number (issue 20): what staff type finds what was stored,
and nothing stored gives the name or the ID number back."""

from __future__ import annotations

from datetime import UTC, date, datetime

from api.console.search import parse
from core.applicant import applicant_key
from core.person_search import (
    SHORT_NO_RE,
    mask_name,
    name_key,
    normalise_name,
    short_no,
    short_prefix,
    tail_key,
    tail_key_of_id,
)
from core.settings import Settings
from models.tables import CaseRecord
from policy.identity import make_resident_id

SETTINGS = Settings(mode="test")


def test_a_name_is_found_however_it_was_typed() -> None:
    assert normalise_name(" 巴特尔·那顺 ") == normalise_name("巴特尔那顺") == "巴特尔那顺"
    assert name_key(SETTINGS, "张 三") == name_key(SETTINGS, "张三") != name_key(SETTINGS, "张四")
    assert name_key(SETTINGS, "  ") is None


def test_keys_are_keyed_and_never_the_value() -> None:
    other = Settings(mode="test", search_key_secret="x" * 40)
    assert name_key(SETTINGS, "张三") != name_key(other, "张三")
    key = name_key(SETTINGS, "张三")
    assert key is not None and "张" not in key and len(key) == 32


def test_id_tail_with_birth_date_matches_the_full_number() -> None:
    idn = make_resident_id("150102", date(1985, 3, 7), 17)
    assert tail_key_of_id(SETTINGS, idn) == tail_key(SETTINGS, idn[-4:], date(1985, 3, 7))
    assert tail_key(SETTINGS, idn[-4:], date(1985, 3, 8)) != tail_key_of_id(SETTINGS, idn)
    assert tail_key(SETTINGS, "12", date(1985, 3, 7)) is None


def test_short_number_is_region_business_day_and_sequence() -> None:
    # 17:00 UTC on 30 November is already 1 December in Beijing.
    prefix = short_prefix("150102", datetime(2026, 11, 30, 17, 0, tzinfo=UTC))
    assert prefix == "150102-20261201"
    assert short_no(prefix, 7) == "150102-20261201-0007" and SHORT_NO_RE.match(short_no(prefix, 7))


def test_masked_names_stay_masked() -> None:
    assert mask_name("张三丰") == "张**" and mask_name("王*") == "王*" and mask_name("") == ""


def test_what_staff_type_is_understood() -> None:
    idn = make_resident_id("150102", date(1985, 3, 7), 17)
    assert parse(SETTINGS, "150102-20261201-0007", "").column is CaseRecord.short_no
    q = parse(SETTINGS, idn.lower(), "")
    assert q.kind == "id_number" and q.key == applicant_key(SETTINGS, idn)
    assert parse(SETTINGS, idn[-4:], "").error  # a tail needs the birth date
    q = parse(SETTINGS, idn[-4:], "1985-03-07")
    assert q.kind == "id_tail" and q.key == tail_key_of_id(SETTINGS, idn)
    assert parse(SETTINGS, "张三", "").kind == "name"
    assert parse(SETTINGS, idn[:17] + ("0" if idn[-1] != "0" else "1"), "").error  # bad checksum
    assert parse(SETTINGS, "", "").error
