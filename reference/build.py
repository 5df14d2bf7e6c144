"""Regenerate the shipped reference data (``python -m reference.build``); not used at run time.

The province figures below are the documented inputs: population from the tables of the 2025
province-merger scheme (Resolution 202/2025/QH15), Thanh Hóa's counts from seed article 000, and
regional ratios for what no public table gives per province. Every rule that turns them into
``province.csv`` and ``commune.csv`` is here, so that a reviewer can check a figure end to end.

The old-to-new crosswalk is rebuilt only when the two official tables are given::

    python -m reference.build --conversion-csv BangChuyendoiĐVHCmoi_cu_khong_merge.csv \\
        --old-wards-csv Xa_2025-01-04.csv

(both published by the statistics office; copies live in the ``dev/seed-data`` folder of
github.com/sunshine-tech/VietnamProvinces). New ward codes are matched to the list the worker
validates (``schemas.localities``) by name within the province, see ``_project_ward``.
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Final, NamedTuple

from reference.build_crosswalk import OLD_PROVINCES, WARD_CROSSWALK_COLUMNS, crosswalk_rows
from reference.split import split_total
from schemas.localities import all_provinces, all_wards, province_name, ward_name

DATA: Final = Path(__file__).resolve().parent / "data"
AS_OF: Final = date(2025, 6, 30)

# --- sources ------------------------------------------------------------------------------------

SOURCES: Final[tuple[tuple[str, int, str, str], ...]] = (
    (
        "nq202_2025",
        2024,
        "official",
        "Population size (quy mô dân số) at 2024-12-31 of each province in the tables of the "
        "2025 province-merger scheme adopted by Resolution 202/2025/QH15 (2025-06-12); it "
        "counts registered residents and is higher than GSO's mean resident population "
        "(Thanh Hóa 4,324,783 vs 3,764.2 thousand in the GSO 2024 yearbook)",
    ),
    (
        "seed000_2025q1",
        2025,
        "press",
        "Thanh Hóa digital-transformation steering committee to end of March 2025 (seed 000): "
        "59,991 / 164,382 pension and social-insurance beneficiaries paid cashless, 45,158 / "
        "53,571 social-allowance beneficiaries paid to accounts, >2.2 M e-ID accounts, +30 k "
        "since January",
    ),
    (
        "est_age16_2024",
        2024,
        "estimate",
        "population x regional share aged 16+ (northern midlands and mountains 0.72, Red River "
        "delta 0.77, north and south central coast 0.75, central highlands 0.72, southeast "
        "0.78, Mekong delta 0.78), after the GSO 2024 age structure",
    ),
    (
        "est_pension_ratio",
        2024,
        "estimate",
        "population x regional ratio of monthly pension and social-insurance beneficiaries "
        "(mountains 3.0 %, Red River delta 4.2 %, central coast 3.8 % = Thanh Hóa's, highlands "
        "2.0 %, southeast 2.3 %, Mekong 1.8 %): ~3.4 M nationally, the order of VSS's ~3.3 M",
    ),
    (
        "est_welfare_ratio",
        2025,
        "estimate",
        "population x Thanh Hóa's ratio of social-allowance beneficiaries "
        "(53,571 / 4,324,783 = 1.24 %)",
    ),
    (
        "est_eid_coverage",
        2025,
        "estimate",
        "eligible_16plus x regional level-2 coverage on the as_of date (mountains 0.62, Red "
        "River delta 0.78, central coast 0.69 = Thanh Hóa's, highlands 0.62, southeast 0.72, "
        "Mekong 0.68)",
    ),
    (
        "est_eid_seed000",
        2025,
        "estimate",
        "Thanh Hóa: 2.2 M accounts at 2025-03-31 (seed 000) plus one quarter at the Q1 pace "
        "(+30 k) = 2.23 M on 2025-06-30; activated accounts taken as level 2",
    ),
    (
        "est_eid_seed004",
        2026,
        "estimate",
        "Phú Thọ: 2.5 M accounts in January 2026 (seed 004) less six months at ~8 k a month "
        "= 2.45 M on 2025-06-30; activated accounts taken as level 2",
    ),
    (
        "tgt_one_identity_2025",
        2025,
        "target",
        "100 % of citizens aged 16+ with a level-2 digital identity: the 'Mỗi công dân - Một "
        "danh tính số' model (seed 000) and Project 06's goal",
    ),
    (
        "tgt_pension_cashless",
        2021,
        "target",
        "50 % of pensions paid without cash: the goal of the 2021-2025 cashless-payment plan "
        "(Decision 1813/QĐ-TTg) for urban pensioners, applied province-wide (approximate)",
    ),
    (
        "tgt_welfare_cashless",
        2025,
        "target",
        "100 % of social-allowance payments to accounts: Project 06's cashless social-security "
        "goal (approximate)",
    ),
    (
        "tgt_service_online",
        2025,
        "target",
        "50 % of public-service fees paid online on the National Public Service Portal: the "
        "order of the 2025 digital-government goals (approximate; Thanh Hóa was at 58.93 %)",
    ),
    (
        "est_commune_split",
        2025,
        "estimate",
        "commune = province figure x the commune's weight share (ward 2, rural commune 1, "
        "special zone: the weight of its approximate population), largest-remainder rounding",
    ),
    (
        "est_special_zone_2019",
        2019,
        "estimate",
        "special zones (đặc khu): approximate resident population of the former island "
        "districts and communes at the 2019 census; Hoàng Sa 0 (no resident population)",
    ),
)

# --- provinces ------------------------------------------------------------------------------------

MOUNTAINS, DELTA, COAST, HIGHLANDS, SOUTHEAST, MEKONG = "NMM", "RRD", "NCC", "CH", "SE", "MD"
ELIGIBLE_SHARE: Final = {
    MOUNTAINS: 0.72,
    DELTA: 0.77,
    COAST: 0.75,
    HIGHLANDS: 0.72,
    SOUTHEAST: 0.78,
    MEKONG: 0.78,
}
PENSION_RATIO: Final = {
    MOUNTAINS: 0.030,
    DELTA: 0.042,
    COAST: 0.038,
    HIGHLANDS: 0.020,
    SOUTHEAST: 0.023,
    MEKONG: 0.018,
}
EID_COVERAGE: Final = {
    MOUNTAINS: 0.62,
    DELTA: 0.78,
    COAST: 0.69,
    HIGHLANDS: 0.62,
    SOUTHEAST: 0.72,
    MEKONG: 0.68,
}
WELFARE_RATIO: Final = 53_571 / 4_324_783
TARGETS: Final = {
    "target_eid_l2_coverage": (1.0, "tgt_one_identity_2025"),
    "target_pension_cashless": (0.5, "tgt_pension_cashless"),
    "target_welfare_cashless": (1.0, "tgt_welfare_cashless"),
    "target_service_online": (0.5, "tgt_service_online"),
}


class _Province(NamedTuple):
    code: str
    population: int  # nq202_2025
    region: str


PROVINCES: Final = (
    _Province("01", 8_807_523, DELTA),
    _Province("04", 573_119, MOUNTAINS),
    _Province("08", 1_865_270, MOUNTAINS),
    _Province("11", 673_091, MOUNTAINS),
    _Province("12", 512_601, MOUNTAINS),
    _Province("14", 1_404_587, MOUNTAINS),
    _Province("15", 1_778_785, MOUNTAINS),
    _Province("19", 1_799_489, MOUNTAINS),
    _Province("20", 881_384, MOUNTAINS),
    _Province("22", 1_497_447, DELTA),
    _Province("24", 3_619_433, DELTA),
    _Province("25", 4_022_638, MOUNTAINS),
    _Province("31", 4_664_124, DELTA),
    _Province("33", 3_567_943, DELTA),
    _Province("37", 4_412_264, DELTA),
    _Province("38", 4_324_783, COAST),
    _Province("40", 3_831_694, COAST),
    _Province("42", 1_622_901, COAST),
    _Province("44", 1_870_845, COAST),
    _Province("46", 1_432_986, COAST),
    _Province("48", 3_065_628, COAST),
    _Province("51", 2_161_755, COAST),
    _Province("52", 3_583_693, HIGHLANDS),
    _Province("56", 2_243_554, COAST),
    _Province("66", 3_346_853, HIGHLANDS),
    _Province("68", 3_872_999, HIGHLANDS),
    _Province("75", 4_491_408, SOUTHEAST),
    _Province("79", 14_002_598, SOUTHEAST),
    _Province("80", 3_254_170, SOUTHEAST),
    _Province("82", 4_370_046, MEKONG),
    _Province("86", 4_257_581, MEKONG),
    _Province("91", 4_952_238, MEKONG),
    _Province("92", 4_199_824, MEKONG),
    _Province("96", 2_606_672, MEKONG),
)
# Figures a public source gives for one province: field -> (value, source id).
KNOWN: Final[Mapping[str, Mapping[str, tuple[int, str]]]] = {
    "38": {
        "pensioners": (164_382, "seed000_2025q1"),
        "welfare_beneficiaries": (53_571, "seed000_2025q1"),
        "eid_l2_baseline": (2_230_000, "est_eid_seed000"),
    },
    "25": {"eid_l2_baseline": (2_450_000, "est_eid_seed004")},
}

# Special zones (đặc khu): approximate residents (est_special_zone_2019).
SPECIAL_ZONES: Final[Mapping[str, int]] = {
    "06994": 46_000,  # Vân Đồn
    "07192": 6_500,  # Cô Tô
    "11914": 32_000,  # Cát Hải
    "11948": 1_000,  # Bạch Long Vĩ
    "19742": 400,  # Cồn Cỏ
    "20333": 0,  # Hoàng Sa
    "21548": 22_000,  # Lý Sơn
    "22736": 200,  # Trường Sa
    "23272": 29_000,  # Phú Quý
    "26732": 11_000,  # Côn Đảo
    "31078": 178_000,  # Phú Quốc
    "31105": 1_500,  # Thổ Châu
    "31108": 17_000,  # Kiên Hải
}
WARD_WEIGHT: Final = {"phường": 2.0, "xã": 1.0}

PROVINCE_COLUMNS: Final = (
    "code",
    "name",
    "population",
    "eligible_16plus",
    "pensioners",
    "welfare_beneficiaries",
    "eid_l2_baseline",
    "target_eid_l2_coverage",
    "target_pension_cashless",
    "target_welfare_cashless",
    "target_service_online",
    "approx",
    "as_of",
    "source",
)
COMMUNE_COLUMNS: Final = (
    "code",
    "name",
    "province",
    "division_type",
    "weight",
    "population",
    "eligible_16plus",
    "pensioners",
    "welfare_beneficiaries",
    "eid_l2_baseline",
    "target_eid_l2_coverage",
    "target_pension_cashless",
    "target_welfare_cashless",
    "target_service_online",
    "estimated",
    "source",
)
COUNTS: Final = (
    "population",
    "eligible_16plus",
    "pensioners",
    "welfare_beneficiaries",
    "eid_l2_baseline",
)


def province_rows() -> list[dict[str, str]]:
    """province.csv, from ``PROVINCES``, ``KNOWN`` and the regional ratios."""
    rows = []
    for p in PROVINCES:
        eligible = round(p.population * ELIGIBLE_SHARE[p.region])
        figures: dict[str, tuple[int, str]] = {
            "population": (p.population, "nq202_2025"),
            "eligible_16plus": (eligible, "est_age16_2024"),
            "pensioners": (round(p.population * PENSION_RATIO[p.region]), "est_pension_ratio"),
            "welfare_beneficiaries": (round(p.population * WELFARE_RATIO), "est_welfare_ratio"),
            "eid_l2_baseline": (
                int(round(eligible * EID_COVERAGE[p.region], -3)),
                "est_eid_coverage",
            ),
        }
        figures.update(KNOWN.get(p.code, {}))
        row = {"code": p.code, "name": province_name(p.code) or ""}
        row.update({field: str(value) for field, (value, _) in figures.items()})
        row.update({field: f"{value:g}" for field, (value, _) in TARGETS.items()})
        approx = any(src.startswith("est_") for _, src in figures.values())
        row["approx"] = "true" if approx else "false"
        row["as_of"] = AS_OF.isoformat()
        pairs = [f"{field}:{src}" for field, (_, src) in figures.items()]
        pairs += [f"{field}:{src}" for field, (_, src) in TARGETS.items()]
        row["source"] = "; ".join(pairs)
        rows.append(row)
    return rows


def commune_weights() -> dict[str, tuple[str, float]]:
    """ward code -> (division type, weight), as ``reference.split`` documents."""
    from vietnam_provinces import Ward

    kinds = {f"{int(w.code):05d}": str(w.division_type.value) for w in Ward.iter_all()}
    by_province: dict[str, list[str]] = defaultdict(list)
    for ward, province in sorted(all_wards().items()):
        by_province[province].append(ward)
    population = {p.code: p.population for p in PROVINCES}
    out: dict[str, tuple[str, float]] = {}
    for province, wards in by_province.items():
        regular = [w for w in wards if w not in SPECIAL_ZONES]
        zones = [w for w in wards if w in SPECIAL_ZONES]
        regular_weight = sum(WARD_WEIGHT[kinds[w]] for w in regular)
        zone_people = sum(SPECIAL_ZONES[w] for w in zones)
        # Weights that give each zone its approximate population under the default total.
        zone_weight = zone_people * regular_weight / (population[province] - zone_people)
        total_weight = regular_weight + zone_weight
        for w in regular:
            out[w] = (kinds[w], WARD_WEIGHT[kinds[w]])
        for w in zones:
            out[w] = (kinds[w], round(SPECIAL_ZONES[w] * total_weight / population[province], 6))
    return out


def commune_rows(provinces: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """commune.csv: every province's figures split onto its communes by weight."""
    weights = commune_weights()
    by_province: dict[str, list[str]] = defaultdict(list)
    for ward, province in sorted(all_wards().items()):
        by_province[province].append(ward)
    rows: list[dict[str, str]] = []
    for prov in provinces:
        wards = by_province[prov["code"]]
        w = [weights[c][1] for c in wards]
        population = split_total(int(prov["population"]), w)
        split = {"population": population}
        for field in COUNTS[1:]:
            caps = population if field != "eid_l2_baseline" else None
            split[field] = split_total(int(prov[field]), w, caps)
        for i, ward in enumerate(wards):
            source = "est_special_zone_2019" if ward in SPECIAL_ZONES else "est_commune_split"
            row = {
                "code": ward,
                "name": ward_name(ward) or "",
                "province": prov["code"],
                "division_type": weights[ward][0],
                "weight": f"{weights[ward][1]:g}",
            }
            row.update({field: str(split[field][i]) for field in COUNTS})
            row.update({field: prov[field] for field in TARGETS})
            row["estimated"] = "true"
            row["source"] = f"{source}; province {prov['code']}: see province.csv"
            rows.append(row)
    rows.sort(key=lambda r: r["code"])
    return rows


# --- writing ------------------------------------------------------------------------------------


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversion-csv", type=Path, help="official old/new ward table")
    parser.add_argument("--old-wards-csv", type=Path, help="official pre-2025 ward list")
    parser.add_argument("--out", type=Path, default=DATA, help="data folder")
    args = parser.parse_args(argv)
    assert {p.code for p in PROVINCES} == set(all_provinces()), "34 provinces expected"
    provinces = province_rows()
    write_csv(args.out / "province.csv", PROVINCE_COLUMNS, provinces)
    write_csv(args.out / "commune.csv", COMMUNE_COLUMNS, commune_rows(provinces))
    write_csv(
        args.out / "sources.csv",
        ("id", "year", "kind", "description"),
        ({"id": i, "year": str(y), "kind": k, "description": d} for i, y, k, d in SOURCES),
    )
    write_csv(
        args.out / "crosswalk_province.csv",
        ("old_code", "old_name", "new_code"),
        ({"old_code": o, "old_name": n, "new_code": c} for o, n, c in OLD_PROVINCES),
    )
    if args.conversion_csv and args.old_wards_csv:
        rows = crosswalk_rows(args.conversion_csv, args.old_wards_csv)
        write_csv(args.out / "crosswalk_ward.csv", WARD_CROSSWALK_COLUMNS, rows)
    print(f"reference data written to {args.out}")


if __name__ == "__main__":
    main()
