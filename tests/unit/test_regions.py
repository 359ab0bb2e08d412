"""Region reference data and scope rules: the table must match GB/T 2260, and scope must never leak."""

from __future__ import annotations

import csv
from collections import Counter

import pytest

from policy import regions
from policy.regions import (
    REGION_ROOT,
    RegionError,
    ancestors,
    children,
    descendants,
    dispute_reviewer_regions,
    full_name,
    get_region,
    is_known_region,
    is_within,
    leagues,
    subtree_codes,
)

ALL = [get_region(c) for c in subtree_codes(REGION_ROOT)]

LEAGUES = {
    "150100": "呼和浩特市",
    "150200": "包头市",
    "150300": "乌海市",
    "150400": "赤峰市",
    "150500": "通辽市",
    "150600": "鄂尔多斯市",
    "150700": "呼伦贝尔市",
    "150800": "巴彦淖尔市",
    "150900": "乌兰察布市",
    "152200": "兴安盟",
    "152500": "锡林郭勒盟",
    "152900": "阿拉善盟",
}

# County-level units per league under GB/T 2260, counting the two directly administered cities with the
# league they statistically belong to.
COUNTIES_PER_LEAGUE = {
    "150100": 9,
    "150200": 9,
    "150300": 3,
    "150400": 12,
    "150500": 8,
    "150600": 9,
    "150700": 14,
    "150800": 7,
    "150900": 11,
    "152200": 6,
    "152500": 12,
    "152900": 3,
}


def test_counts_per_level() -> None:
    levels = Counter(r.level for r in ALL)
    assert levels == {"region": 1, "league": 12, "county": 103}
    assert len(ALL) == 116


def test_leagues_are_the_twelve() -> None:
    assert {r.code: r.name for r in leagues()} == LEAGUES
    assert all(r.parent == REGION_ROOT for r in leagues())


def test_counties_per_league_by_statistical_parent() -> None:
    counted = Counter(r.statistical_parent for r in ALL if r.level == "county")
    assert counted == COUNTIES_PER_LEAGUE


def test_hohhot_example_codes() -> None:
    assert {r.code: r.name for r in children("150100")} == {
        "150102": "新城区",
        "150103": "回民区",
        "150104": "玉泉区",
        "150105": "赛罕区",
        "150121": "土默特左旗",
        "150122": "托克托县",
        "150123": "和林格尔县",
        "150124": "清水河县",
        "150125": "武川县",
    }


def test_every_parent_exists_and_codes_are_well_formed() -> None:
    for r in ALL:
        assert len(r.code) == 6 and r.code.isdigit() and r.code.startswith("15"), r.code
        if r.code == REGION_ROOT:
            assert r.parent is None and r.level == "region"
            continue
        assert r.parent is not None and is_known_region(r.parent), r.code
        assert r.statistical_parent is not None and is_known_region(r.statistical_parent), r.code


def test_csv_file_rows_all_load() -> None:
    # Nothing in the file may be silently dropped by the loader (a duplicate code, say).
    text = regions._read_data("regions_nm.csv")
    rows = list(csv.DictReader(text.splitlines()))
    assert len(rows) == len(ALL)
    assert len({r["code"] for r in rows}) == len(rows)


def test_county_codes_sit_under_their_statistical_league() -> None:
    # GB/T 2260: the first four digits of a county-level code are its league's.
    for r in ALL:
        if r.level == "county":
            assert r.statistical_parent == r.code[:4] + "00", r.code


def test_directly_administered() -> None:
    direct = {r.code: r for r in ALL if r.directly_administered}
    assert set(direct) == {"150781", "152501"}
    assert direct["150781"].name == "满洲里市" and direct["150781"].statistical_parent == "150700"
    assert direct["152501"].name == "二连浩特市" and direct["152501"].statistical_parent == "152500"
    assert all(r.parent == REGION_ROOT for r in direct.values())
    assert all(
        r.parent == r.statistical_parent for r in ALL if r.level == "county" and not r.directly_administered
    )


def test_league_sees_its_banners() -> None:
    assert is_within("150100", "150121")
    assert is_within("150700", "150702")
    assert is_within("150100", "150100")


def test_banner_does_not_see_sibling_or_parent() -> None:
    assert not is_within("150121", "150122")
    assert not is_within("150121", "150100")
    assert is_within("150121", "150121")


def test_league_does_not_see_other_league() -> None:
    assert not is_within("150100", "150202")


def test_region_sees_everything() -> None:
    assert all(is_within(REGION_ROOT, r.code) for r in ALL)
    assert subtree_codes(REGION_ROOT) == frozenset(r.code for r in ALL)


def test_directly_administered_city_is_outside_its_league() -> None:
    assert not is_within("150700", "150781")
    assert is_within(REGION_ROOT, "150781")
    assert not is_within("152500", "152501")
    assert is_within(REGION_ROOT, "152501")
    assert "150781" not in subtree_codes("150700")
    assert "150781" in subtree_codes(REGION_ROOT)


def test_ancestors_nearest_first() -> None:
    assert [r.code for r in ancestors("150702")] == ["150700", REGION_ROOT]
    assert [r.code for r in ancestors("150781")] == [REGION_ROOT]
    assert ancestors(REGION_ROOT) == []


def test_descendants_and_subtree() -> None:
    assert [r.code for r in descendants("152900")] == ["152921", "152922", "152923"]
    assert subtree_codes("152900") == {"152900", "152921", "152922", "152923"}
    assert descendants("150121") == []
    assert subtree_codes("150121") == {"150121"}
    assert len(subtree_codes("150700")) == 14  # 14 units, less 满洲里, plus the city itself


def test_full_name() -> None:
    assert full_name("150702") == "呼伦贝尔市 海拉尔区"
    assert full_name("150781") == "呼伦贝尔市 满洲里市"
    assert full_name("150100") == "呼和浩特市"
    assert full_name(REGION_ROOT) == "内蒙古自治区"


@pytest.mark.parametrize("code", ["150199", "110101", "152101", "159999"])
def test_unknown_code_refused(code: str) -> None:
    # 152101 was 海拉尔市 under the abolished 呼伦贝尔盟: a former code is unknown, not malformed.
    with pytest.raises(RegionError) as e:
        get_region(code)
    assert e.value.code == "region.unknown"
    assert e.value.message_zh
    assert not is_known_region(code)


@pytest.mark.parametrize("code", ["", "15010", "1501021", "15010a", "１５０１０２", None, 150102])
def test_malformed_code_refused(code: object) -> None:
    with pytest.raises(RegionError) as e:
        get_region(code)  # type: ignore[arg-type]
    assert e.value.code == "region.format"
    assert isinstance(e.value, ValueError)
    assert not is_known_region(code)  # type: ignore[arg-type]


def test_is_within_refuses_unknown_codes() -> None:
    with pytest.raises(RegionError):
        is_within("150100", "150199")
    with pytest.raises(RegionError):
        is_within("bad", "150102")


def test_whitespace_is_tolerated() -> None:
    assert get_region(" 150102 ").code == "150102"


def test_dispute_default_banner() -> None:
    assert dispute_reviewer_regions("150121", "initial") == {"150121", REGION_ROOT}
    assert dispute_reviewer_regions("150121", "second") == {"150100", REGION_ROOT}
    assert dispute_reviewer_regions("150121", "final") == {"150100", REGION_ROOT}


def test_dispute_default_directly_administered_skips_the_league() -> None:
    assert dispute_reviewer_regions("150781", "initial") == {"150781", REGION_ROOT}
    assert dispute_reviewer_regions("150781", "second") == {REGION_ROOT}
    assert "150700" not in dispute_reviewer_regions("150781", "final")


def test_dispute_default_case_filed_at_league_or_root() -> None:
    assert dispute_reviewer_regions("150100", "initial") == {"150100", REGION_ROOT}
    assert dispute_reviewer_regions("150100", "final") == {"150100", REGION_ROOT}
    assert dispute_reviewer_regions(REGION_ROOT, "second") == {REGION_ROOT}


def test_dispute_rows_override_default(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "case_region,reviewing_region,levels\n150121,150100,initial|second\n150121,150000,initial\n"
    real = regions._read_data
    monkeypatch.setattr(
        regions, "_read_data", lambda name: text if name == "dispute_authority.csv" else real(name)
    )
    regions._dispute_rules.cache_clear()
    try:
        assert dispute_reviewer_regions("150121", "initial") == {"150100", REGION_ROOT}
        assert dispute_reviewer_regions("150121", "second") == {"150100"}
        assert dispute_reviewer_regions("150121", "final") == {"150100", REGION_ROOT}  # no row: default
        assert dispute_reviewer_regions("150122", "initial") == {"150122", REGION_ROOT}
    finally:
        regions._dispute_rules.cache_clear()


def test_dispute_file_rejects_bad_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    real = regions._read_data
    for bad in ("150121,150100,appeal\n", "150199,150100,initial\n"):
        text = "case_region,reviewing_region,levels\n" + bad
        monkeypatch.setattr(
            regions, "_read_data", lambda name, t=text: t if name == "dispute_authority.csv" else real(name)
        )
        regions._dispute_rules.cache_clear()
        with pytest.raises(RuntimeError):
            dispute_reviewer_regions("150121", "initial")
    regions._dispute_rules.cache_clear()


def test_shipped_dispute_file_loads() -> None:
    regions._dispute_rules.cache_clear()
    for r in ALL:
        for level in ("initial", "second", "final"):
            reviewers = dispute_reviewer_regions(r.code, level)
            assert reviewers and all(is_known_region(c) for c in reviewers)


def test_dispute_level_and_region_validated() -> None:
    with pytest.raises(RegionError) as e:
        dispute_reviewer_regions("150121", "appeal")  # type: ignore[arg-type]
    assert e.value.code == "region.dispute_level"
    with pytest.raises(RegionError) as e:
        dispute_reviewer_regions("150199", "initial")
    assert e.value.code == "region.unknown"
