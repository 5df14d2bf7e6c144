"""`civicpulse import-csv`: mappings, conversion, citizen IDs kept out of everything written."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from producers.csv_import import (
    KEY_ENV,
    KEY_FILE_ENV,
    NAMESPACE,
    CsvInputError,
    HmacKeyError,
    ImportMapping,
    MappingError,
    hmac_key_from_env,
    import_csv,
    load_mapping,
)
from schemas.privacy import hmac_ref
from schemas.validate import Rejection, parse_event

EXAMPLES = Path(__file__).resolve().parents[2] / "scenarios" / "import-examples"
KEY = b"test-key-0123456789abcdef"
NOW = 2_000_000_000.0
CCCD = "038099000001"


def mapping(**overrides: Any) -> ImportMapping:
    base: dict[str, Any] = {
        "kind": "welfare.disbursement",
        "source": "vss",
        "time": {"column": "paid", "format": "%d/%m/%Y %H:%M"},
        "event_id": {"columns": ["voucher"]},
        "fields": {
            "province_code": {"column": "province"},
            "ward_code": {"column": "ward", "optional": True},
            "program": {"value": "pension"},
            "channel": {
                "column": "how",
                "map": {"Chuyển khoản": "bank_account", "Tiền mặt": "cash"},
            },
            "amount_vnd": {"column": "amount", "type": "amount"},
            "beneficiary_ref": {"citizen_id_column": "cccd"},
        },
    }
    base.update(overrides)
    return ImportMapping.model_validate(base)


HEADER = "voucher,paid,province,ward,name,cccd,how,amount\n"


def run(
    tmp_path: Path, rows: str, m: ImportMapping | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Any]:
    src = tmp_path / "in.csv"
    src.write_text(HEADER + rows, encoding="utf-8")
    out, bad = tmp_path / "out.jsonl", tmp_path / "rejects.jsonl"
    summary = import_csv([src], m or mapping(), out, bad, key=KEY, now=NOW)
    events = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    rejects = [orjson.loads(line) for line in bad.read_bytes().splitlines()]
    return events, rejects, summary


def test_a_good_row_becomes_a_valid_event(tmp_path: Path) -> None:
    events, rejects, summary = run(
        tmp_path, f'V1,03/03/2025 08:15,38,14797,Nguyễn Văn A,{CCCD},Chuyển khoản,"5.400.000"\n'
    )
    assert rejects == []
    assert summary.written == summary.rows == 1
    (ev,) = events
    assert ev == {
        "event_id": ev["event_id"],
        "kind": "welfare.disbursement",
        "occurred_at": "2025-03-03T08:15:00+07:00",
        "province_code": "38",
        "ward_code": "14797",
        "source": "vss",
        "schema_version": 1,
        "program": "pension",
        "channel": "bank_account",
        "amount_vnd": 5_400_000,
        "beneficiary_ref": hmac_ref(CCCD, KEY),
    }
    assert not isinstance(parse_event(orjson.dumps(ev), now=NOW), Rejection)


@pytest.mark.parametrize(
    ("cells", "field", "value"),
    [
        ("V1,03/03/2025 08:15,38,14797,A,{id},Tiền mặt,3500000", "amount_vnd", 3_500_000),
        ('V1,03/03/2025 08:15,38,14797,A,{id},Tiền mặt,"3,500,000"', "amount_vnd", 3_500_000),
        ("V1,03/03/2025 08:15,38,14797,A,{id},Tiền mặt,3.500.000 đ", "amount_vnd", 3_500_000),
        ("V1,03/03/2025 08:15,38,14797,A,{id},tiền mặt,3500000", "channel", "cash"),
        ("V1,03/03/2025 08:15,38,,A,{id},Tiền mặt,3500000", "ward_code", None),
        ("V1,03/03/2025 08:15,1,00070,A,{id},Tiền mặt,3500000", "province_code", "01"),
        (
            "V1,03/03/2025 08:15,38,14797,A, {id} ,Tiền mặt,3500000",
            "beneficiary_ref",
            hmac_ref(CCCD, KEY),
        ),
    ],
)
def test_cell_formats(tmp_path: Path, cells: str, field: str, value: Any) -> None:
    events, rejects, _ = run(tmp_path, cells.format(id=CCCD) + "\n")
    assert rejects == []
    assert events[0][field] == value


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        ("V1,03/03/2025 08:15,38,00070,A,{id},Tiền mặt,1", "ward_not_in_province"),
        ("V1,03/03/2025 08:15,99,,A,{id},Tiền mặt,1", "unknown_province"),
        (
            "V1,31/02/2025 08:15,38,,A,{id},Tiền mặt,1",
            "occurred_at: '31/02/2025 08:15' does not match",
        ),
        ("V1,,38,,A,{id},Tiền mặt,1", "occurred_at: column 'paid' is empty"),
        ("V1,03/03/2025 08:15,38,,A,{id},Séc,1", "channel: 'Séc' is not in the value map"),
        ("V1,03/03/2025 08:15,38,,A,{id},Tiền mặt,12.5", "amount_vnd: '12.5' is not an amount"),
        ("V1,03/03/2025 08:15,38,,A,{id},Tiền mặt,0", "bad_value"),
        ("V1,03/03/2025 08:15,38,,A,,Tiền mặt,1", "beneficiary_ref: column 'cccd' is empty"),
        ("V1,03/03/2025 08:15,38,,A,03809900001,Tiền mặt,1", "does not hold a 12-digit citizen ID"),
        ("V1,03/03/2035 08:15,38,,A,{id},Tiền mặt,1", "time_in_future"),
    ],
)
def test_bad_rows_are_rejected_with_file_row_and_reason(
    tmp_path: Path, cells: str, reason: str
) -> None:
    good = f"V0,03/03/2025 08:00,38,,B,{CCCD},Tiền mặt,1\n"
    events, rejects, summary = run(tmp_path, good + cells.format(id=CCCD) + "\n")
    assert len(events) == 1
    assert summary.rows == 2
    (bad,) = rejects
    assert bad["file"].endswith("in.csv")
    assert bad["row"] == 2
    assert bad["line"] == 3
    assert reason in bad["reason"]
    assert sum(summary.rejected.values()) == 1


def test_raw_ids_never_reach_what_is_written(tmp_path: Path) -> None:
    rows = "".join(
        [
            f"V1,03/03/2025 08:15,38,14797,A,{CCCD},Chuyển khoản,1\n",
            f"V2,03/03/2025 08:15,38,00070,B,{CCCD},Tiền mặt,1\n",  # rejected: ward elsewhere
            "V3,03/03/2025 08:15,38,,C,038099000003,Séc,1\n",  # rejected: unmapped value
            "V4,03/03/2025 08:15,38,,D,03809900004,Tiền mặt,1\n",  # rejected: 11 digits
            "V5,038099000005,38,,E,038099000005,Tiền mặt,1\n",  # an ID in the time column
        ]
    )
    _, rejects, summary = run(tmp_path, rows)
    assert summary.written == 1
    assert sum(summary.rejected.values()) == 4
    written = (tmp_path / "out.jsonl").read_bytes() + (tmp_path / "rejects.jsonl").read_bytes()
    for raw_id in (CCCD, "038099000003", "03809900004", "038099000005"):
        assert raw_id.encode() not in written
    assert all(r["data"]["cccd"] == "<redacted>" for r in rejects)
    assert all("name" not in r["data"] for r in rejects)  # columns the mapping does not read


def test_event_ids_are_stable_across_reimports_and_do_not_hash_raw_ids(tmp_path: Path) -> None:
    row = f"V1,03/03/2025 08:15,38,14797,A,{CCCD},Chuyển khoản,1\n"
    first, _, _ = run(tmp_path, row)
    again, _, _ = run(tmp_path, row)
    other_row, _, _ = run(tmp_path, row.replace("V1", "V2"))
    assert first[0]["event_id"] == again[0]["event_id"] != other_row[0]["event_id"]
    assert uuid.UUID(first[0]["event_id"]).version == 5
    # Without identity columns the whole row is the identity, the citizen ID as its HMAC.
    whole = mapping(event_id=None)
    ev, _, _ = run(tmp_path, row, whole)
    hashed_raw = uuid.uuid5(NAMESPACE, f"welfare.disbursement\x1fvss\x1fcccd={CCCD}")
    assert ev[0]["event_id"] != str(hashed_raw)
    assert ev[0]["event_id"] != first[0]["event_id"]


def test_a_repeated_row_is_written_twice_and_counted(tmp_path: Path) -> None:
    row = f"V1,03/03/2025 08:15,38,14797,A,{CCCD},Chuyển khoản,1\n"
    events, _, summary = run(tmp_path, row + row)
    assert len(events) == 2
    assert events[0]["event_id"] == events[1]["event_id"]
    assert summary.repeated_ids == 1
    assert "repeat an earlier row" in summary.render()


def test_legacy_codes_are_translated_when_the_mapping_says_so(tmp_path: Path) -> None:
    events, rejects, _ = run(
        tmp_path, f"V1,03/03/2025 08:15,36,,A,{CCCD},Tiền mặt,1\n", mapping(legacy_codes=True)
    )
    assert rejects == []
    assert events[0]["province_code"] == "37"


def test_iso_times_and_other_zones(tmp_path: Path) -> None:
    m = mapping(time={"column": "paid", "format": "iso", "timezone": "+00:00"})
    events, rejects, _ = run(tmp_path, f"V1,2025-03-03T01:15:00,38,,A,{CCCD},Tiền mặt,1\n", m)
    assert rejects == []
    assert events[0]["occurred_at"] == "2025-03-03T01:15:00+00:00"
    events, _, _ = run(tmp_path, f"V1,2025-03-03T08:15:00+07:00,38,,A,{CCCD},Tiền mặt,1\n", m)
    assert events[0]["occurred_at"] == "2025-03-03T08:15:00+07:00"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "payment.card"}, "kind: Input should be"),
        ({"source": "VSS System"}, "source: String should match pattern"),
        (
            {"fields": {"province_code": {"column": "p"}}},
            "needs fields amount_vnd, beneficiary_ref, channel, program",
        ),
        (
            {"fields": {"province_code": {"column": "p"}, "level": {"value": 2}}},
            "fields level are not fields of welfare.disbursement",
        ),
        (
            {"time": {"column": "t", "timezone": "Mars/Olympus"}},
            "unknown time zone 'Mars/Olympus'",
        ),
        ({"colour": "red"}, "colour: unknown key"),
    ],
)
def test_invalid_mappings_are_refused_clearly(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    import yaml

    data = yaml.safe_load((EXAMPLES / "vss-pension-mapping.yaml").read_text(encoding="utf-8"))
    data.update(changes)
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    assert message in str(caught.value)
    assert re.search(r"m\.yaml:[0-9]+: ", str(caught.value))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "no HMAC key for citizen IDs"),
        ({KEY_ENV: "short"}, "at least 16 are needed"),
        ({KEY_ENV: "a-key-long-enough-1234", KEY_FILE_ENV: "/x"}, "not both"),
        ({KEY_FILE_ENV: "/nonexistent/key"}, "cannot read the key file"),
    ],
)
def test_key_problems_are_clear(env: dict[str, str], message: str) -> None:
    with pytest.raises(HmacKeyError, match=message):
        hmac_key_from_env(env)


def test_the_key_comes_from_the_environment_or_a_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "hmac.key"
    secret.write_bytes(KEY + b"\n")
    assert hmac_key_from_env({KEY_FILE_ENV: str(secret)}) == KEY
    assert hmac_key_from_env({KEY_ENV: KEY.decode()}) == KEY


def test_inputs_must_exist_and_carry_the_mapped_columns(tmp_path: Path) -> None:
    out, bad = tmp_path / "o.jsonl", tmp_path / "r.jsonl"
    with pytest.raises(CsvInputError, match="no input CSV"):
        import_csv([], mapping(), out, bad, key=KEY)
    with pytest.raises(CsvInputError, match="no such input file"):
        import_csv([tmp_path / "missing.csv"], mapping(), out, bad, key=KEY)
    src = tmp_path / "in.csv"
    src.write_text("voucher,paid\nV1,x\n", encoding="utf-8")
    with pytest.raises(CsvInputError, match=r"'province'.* are not in the header"):
        import_csv([src], mapping(), out, bad, key=KEY)


def _cli(env: dict[str, str], *args: str) -> Any:
    from civicpulse.cli import app

    return CliRunner().invoke(app, list(args), env=env)


def test_the_command_on_the_example_files(tmp_path: Path) -> None:
    out, bad = tmp_path / "p.jsonl", tmp_path / "p.rejects.jsonl"
    args = [
        "import-csv", "--kind", "welfare.disbursement",
        "--mapping", str(EXAMPLES / "vss-pension-mapping.yaml"),
        "--out", str(out), "--rejects", str(bad), str(EXAMPLES / "vss-pension-sample.csv"),
    ]  # fmt: skip
    result = _cli({KEY_ENV: KEY.decode()}, *args)
    assert result.exit_code == 0, result.output
    assert "9 rows in 1 file(s): 5 events written, 4 rejected" in result.output
    for line in out.read_bytes().splitlines():
        assert not isinstance(parse_event(line, now=NOW), Rejection)
    sample = (EXAMPLES / "vss-pension-sample.csv").read_text(encoding="utf-8")
    raw_ids = set(re.findall(r"(?<![0-9])[0-9]{11,12}(?![0-9])", sample))
    assert len(raw_ids) == 9
    written = out.read_text(encoding="utf-8") + bad.read_text(encoding="utf-8")
    assert not any(raw_id in written for raw_id in raw_ids)

    assert _cli({}, *args).exit_code == 1  # no key
    wrong_kind = _cli(
        {KEY_ENV: KEY.decode()}, *[a if a != "welfare.disbursement" else "payment.qr" for a in args]
    )
    assert wrong_kind.exit_code == 1
    assert "produces welfare.disbursement" in wrong_kind.output
    no_input = _cli({KEY_ENV: KEY.decode()}, *args[:-1])
    assert no_input.exit_code != 0
