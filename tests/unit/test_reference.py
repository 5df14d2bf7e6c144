"""Reference data: the shipped defaults, the commune estimates and the operator's override file."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from reference import (
    COUNT_FIELDS,
    ENV_VAR,
    TARGET_FIELDS,
    LocalityFigures,
    ReferenceData,
    ReferenceDataError,
    load_reference,
)
from reference.split import split_total
from schemas.localities import all_provinces, all_wards

THANH_HOA, HAC_THANH, QUANG_PHU = "38", "14797", "16522"


@pytest.fixture(scope="module")
def shipped() -> ReferenceData:
    return load_reference(use_env=False)


def write(tmp_path: Path, text: str, name: str = "override.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- the shipped defaults -------------------------------------------------------------------------


def test_every_province_and_commune_of_the_2025_list_has_figures(shipped: ReferenceData) -> None:
    assert set(shipped.provinces) == set(all_provinces())
    assert {code: f.province for code, f in shipped.communes.items()} == dict(all_wards())
    assert shipped.as_of == date(2025, 6, 30)
    assert all(isinstance(f, LocalityFigures) for f in shipped.provinces.values())


def test_communes_add_up_exactly_to_their_province(shipped: ReferenceData) -> None:
    for code, province in shipped.provinces.items():
        communes = shipped.communes_of(code)
        for name in COUNT_FIELDS:
            assert sum(getattr(c, name) for c in communes) == getattr(province, name), (code, name)
        for name in TARGET_FIELDS:
            assert {getattr(c, name) for c in communes} == {getattr(province, name)}


def test_commune_figures_are_marked_as_estimates(shipped: ReferenceData) -> None:
    assert all(f.estimated for f in shipped.communes.values())
    assert all("est_" in f.source for f in shipped.communes.values())


def test_thanh_hoa_carries_the_figures_of_the_seed_article(shipped: ReferenceData) -> None:
    th = shipped.provinces[THANH_HOA]
    assert (th.population, th.pensioners, th.welfare_beneficiaries) == (4_324_783, 164_382, 53_571)
    assert th.eid_l2_baseline == 2_230_000  # 2.2 M at end of March 2025, one more quarter
    assert "pensioners:seed000_2025q1" in th.source


def test_every_source_id_is_documented(shipped: ReferenceData) -> None:
    for figures in shipped.provinces.values():
        for pair in figures.source.split("; "):
            field_name, source_id = pair.split(":")
            assert field_name in COUNT_FIELDS + TARGET_FIELDS
            assert source_id in shipped.sources, source_id


@pytest.mark.parametrize("field_name", ["eligible_16plus", "pensioners", "welfare_beneficiaries"])
def test_subgroups_never_exceed_the_population(shipped: ReferenceData, field_name: str) -> None:
    for figures in [*shipped.provinces.values(), *shipped.communes.values()]:
        assert getattr(figures, field_name) <= figures.population


def test_national_totals_are_of_the_right_order(shipped: ReferenceData) -> None:
    total = sum(f.population for f in shipped.provinces.values())
    assert 100_000_000 < total < 120_000_000  # registered population of the 2025 scheme tables
    pensioners = sum(f.pensioners for f in shipped.provinces.values())
    assert 3_000_000 < pensioners < 3_800_000  # VSS: ~3.3 M monthly beneficiaries


def test_figures_and_lookups(shipped: ReferenceData) -> None:
    assert shipped.figures(THANH_HOA) is shipped.provinces[THANH_HOA]
    assert shipped.figures(THANH_HOA, HAC_THANH) is shipped.communes[HAC_THANH]
    assert shipped.figures("01", HAC_THANH) is None
    assert shipped.provinces[THANH_HOA].is_province
    assert not shipped.communes[HAC_THANH].is_province


def test_the_models_are_frozen(shipped: ReferenceData) -> None:
    with pytest.raises(ValueError, match="frozen"):
        shipped.provinces[THANH_HOA].population = 1  # type: ignore[misc]


# --- the split rule ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "weights", "caps", "expected"),
    [
        (10, [1, 1], None, [5, 5]),
        (10, [2, 1, 1], None, [5, 3, 2]),
        (3, [1, 1, 1, 1], None, [1, 1, 1, 0]),
        (0, [1, 2], None, [0, 0]),
        (7, [0, 0], None, [4, 3]),
        (10, [1, 1], [2, 100], [2, 8]),
        (9, [1, 0, 1], [3, 3, 3], [3, 3, 3]),
        (5, [], None, None),
        (-1, [1], None, None),
        (10, [1, 1], [3, 3], None),
    ],
)
def test_split_total(
    total: int, weights: list[float], caps: list[int] | None, expected: list[int] | None
) -> None:
    if expected is None:
        with pytest.raises(ValueError, match="cannot split"):
            split_total(total, weights, caps)
    else:
        assert split_total(total, weights, caps) == expected


# --- overrides ------------------------------------------------------------------------------------


def test_an_override_replaces_figures_and_communes_follow_their_province(
    tmp_path: Path, shipped: ReferenceData
) -> None:
    path = write(
        tmp_path,
        "code,population,eligible_16plus,eid_l2_baseline,target_eid_l2_coverage,as_of,source\n"
        "38,5000000,3900000,2500000,95%,2025-12-31,provincial police report\n"
        f"{HAC_THANH},150000,120000,,,,ward census\n",
    )
    data = load_reference(path, use_env=False)

    th = data.provinces[THANH_HOA]
    assert (th.population, th.eligible_16plus, th.eid_l2_baseline) == (
        5_000_000,
        3_900_000,
        2_500_000,
    )
    assert th.target_eid_l2_coverage == pytest.approx(0.95)
    assert th.pensioners == shipped.provinces[THANH_HOA].pensioners
    assert th.source.startswith("provincial police report (population, eligible_16plus")
    assert data.as_of == date(2025, 12, 31)
    ward = data.communes[HAC_THANH]
    assert (ward.population, ward.eligible_16plus) == (150_000, 120_000)
    communes = data.communes_of(THANH_HOA)
    for name in ("population", "eligible_16plus", "eid_l2_baseline", "pensioners"):
        assert sum(getattr(c, name) for c in communes) == getattr(th, name)
    others = [c for c in communes if c.code != HAC_THANH]
    assert all(c.estimated and c.target_eid_l2_coverage == pytest.approx(0.95) for c in others)
    # Other provinces are untouched.
    assert data.provinces["01"] == shipped.provinces["01"]


def test_an_override_giving_every_count_is_not_an_estimate(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "code,population,eligible_16plus,pensioners,welfare_beneficiaries,eid_l2_baseline\n"
        "38,4324783,3243587,164382,53571,2300000\n",
    )
    assert not load_reference(path, use_env=False).provinces[THANH_HOA].estimated


@pytest.mark.parametrize(
    ("cell", "value"),
    [
        ("4324783", 4_324_783),
        ("4.324.783", 4_324_783),
        ("4,324,783", 4_324_783),
        ("4 324 783", 4_324_783),
    ],
)
def test_counts_accept_thousands_separators(tmp_path: Path, cell: str, value: int) -> None:
    path = write(tmp_path, f'code,population\n38,"{cell}"\n')
    assert load_reference(path, use_env=False).provinces[THANH_HOA].population == value


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("code,population\n99,1000\n", "override.csv:2: code 99: field 'code': unknown province"),
        (
            "code,population\n99999,1000\n",
            "override.csv:2: code 99999: field 'code': unknown commune",
        ),
        (
            "code,population\n38,-5\n",
            "override.csv:2: code 38: field 'population': must not be negative",
        ),
        (
            "code,pensioners\n38,lots\n",
            "field 'pensioners': must be a whole number of people, got 'lots'",
        ),
        ("code,population\n38,12.5\n", "must be a whole number"),
        (
            "code,population,eligible_16plus\n38,1000,2000\n",
            "override.csv:2: code 38: row: eligible_16plus (2,000) is larger than population "
            "(1,000)",
        ),
        (
            "code,target_pension_cashless\n38,95\n",
            "must be between 0 and 1, got '95' (write 0.95 or 95%",
        ),
        ("code,target_service_online\n38,half\n", "must be a fraction like 0.95"),
        (
            "code,populaton\n38,1000\n",
            "override.csv:1: unknown column 'populaton' (did you mean 'population'?)",
        ),
        ("population\n1000\n", "override.csv:1: missing column 'code'"),
        (
            "code,population\n38,1000\n38,2000\n",
            "override.csv:3: code 38: the code is already given at",
        ),
        (
            "code,population\n1,1000\n",
            "is not a 2-digit province or 5-digit commune code (keep the leading",
        ),
        ("code,as_of\n38,31/12/2025\n", "field 'as_of': must be a date YYYY-MM-DD"),
        ("code,as_of\n38,2025-12-31\n01,2025-11-30\n", "the as_of column must hold one date"),
        ("code,approx\n38,maybe\n", "field 'approx': must be true or false"),
        ("code,population\n38,1000,extra\n", "override.csv:2: more cells than columns"),
        ("", "the file is empty"),
        (
            f"code,population\n{HAC_THANH},5000000\n",
            "override.csv:2: province 38: field 'population': the communes given add up to "
            "5,000,000, more than the province's 4,324,783",
        ),
    ],
)
def test_override_errors_say_file_line_field_and_what(
    tmp_path: Path, content: str, message: str
) -> None:
    path = write(tmp_path, content)
    with pytest.raises(ReferenceDataError) as caught:
        load_reference(path, use_env=False)
    assert message in str(caught.value)
    assert str(path) in str(caught.value) or "override.csv" in str(caught.value)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "code,population,pensioners\n99,1,1\n38,-1,x\n")
    with pytest.raises(ReferenceDataError) as caught:
        load_reference(path, use_env=False)
    assert len(caught.value.problems) == 3


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "missing.csv", "cannot read reference file"),
        (lambda tmp: write(tmp, "code\n38\n", "figures.yaml"), "an override is a .csv file"),
        (lambda tmp: _latin1(tmp), "not UTF-8 text"),
    ],
)
def test_unreadable_override_files(
    tmp_path: Path, make: Callable[[Path], Path], message: str
) -> None:
    with pytest.raises(ReferenceDataError, match=message):
        load_reference(make(tmp_path), use_env=False)


def _latin1(tmp: Path) -> Path:
    path = tmp / "latin1.csv"
    path.write_bytes("code,source\n38,Thanh Hóa\n".encode("latin-1"))
    return path


def test_the_environment_variable_names_the_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "code,population\n38,5000000\n")
    monkeypatch.setenv(ENV_VAR, str(path))
    assert load_reference().provinces[THANH_HOA].population == 5_000_000
    assert load_reference(use_env=False).provinces[THANH_HOA].population == 4_324_783
    monkeypatch.setenv(ENV_VAR, "")
    assert load_reference().provinces[THANH_HOA].population == 4_324_783


def test_a_coverage_above_100_percent_is_kept(tmp_path: Path) -> None:
    path = write(tmp_path, "code,eligible_16plus,eid_l2_baseline\n38,3000000,3300000\n")
    th = load_reference(path, use_env=False).provinces[THANH_HOA]
    assert th.eid_l2_baseline / th.eligible_16plus == pytest.approx(1.1)


def test_the_override_template_round_trips(tmp_path: Path, shipped: ReferenceData) -> None:
    from reference.loader import OVERRIDE_COLUMNS, iter_override_template

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(OVERRIDE_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(iter_override_template(shipped, "12"))
    data = load_reference(write(tmp_path, buffer.getvalue()), use_env=False)
    for code, figures in data.communes.items():
        if figures.province == "12":
            expected = shipped.communes[code]
            assert [getattr(figures, n) for n in COUNT_FIELDS] == [
                getattr(expected, n) for n in COUNT_FIELDS
            ]
