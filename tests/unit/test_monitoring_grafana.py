"""Grafana: dashboards and provisioning are structurally valid for a stock Grafana 11/12."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from civicpulse.monitoring import artifacts, tools
from civicpulse.monitoring.alerts import alert_specs
from civicpulse.monitoring.grafana import DATASOURCE_UID, dashboards, validate
from civicpulse.monitoring.grafana.builder import Panel, Query, Row
from civicpulse.monitoring.grafana.provisioning import grafana_template
from civicpulse.monitoring.thresholds import Thresholds

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy/grafana"


@pytest.fixture(scope="module")
def boards() -> dict[str, dict[str, Any]]:
    return {
        p.stem: json.loads(p.read_text()) for p in sorted((GRAFANA / "dashboards").glob("*.json"))
    }


@pytest.fixture(scope="module")
def provisioning() -> dict[str, Any]:
    base = GRAFANA / "provisioning"
    return {p.relative_to(base).as_posix(): yaml.safe_load(p.read_text())
            for p in sorted(base.rglob("*.yaml"))}  # fmt: skip


@pytest.fixture(scope="module")
def th() -> Thresholds:
    return artifacts.Inputs.load(ROOT).thresholds


def test_four_dashboards_with_the_uids_alerts_link_to(boards: dict[str, Any]) -> None:
    assert set(boards) == {
        "civicpulse-overview", "civicpulse-province", "civicpulse-stalls", "civicpulse-pipeline"
    }  # fmt: skip
    for uid, board in boards.items():
        assert board["uid"] == uid


def test_committed_dashboards_and_provisioning_are_valid(
    boards: dict[str, Any], provisioning: dict[str, Any]
) -> None:
    assert validate.check_dashboards(boards.values()) == []
    assert validate.check_provisioning(provisioning) == []


def test_every_datasource_reference_is_the_provisioned_one(
    boards: dict[str, Any], provisioning: dict[str, Any]
) -> None:
    [source] = provisioning["datasources/civicpulse.yaml"]["datasources"]
    assert (source["uid"], source["type"]) == (DATASOURCE_UID, "prometheus")
    for board in boards.values():
        text = json.dumps(board)
        uids = set(re.findall(r'"datasource": \{"type": "prometheus", "uid": "([^"]+)"\}', text))
        assert uids == {DATASOURCE_UID}
        assert '"datasource": null' not in text


def test_province_dashboard_drills_down_by_a_province_variable(boards: dict[str, Any]) -> None:
    board = boards["civicpulse-province"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    province = variables["province"]
    assert "civicpulse_locality_info" in province["definition"]
    # The regex maps query_result's output to code (value) and Vietnamese name (text).
    sample = '{province="38",province_name="Thanh Hóa"} 1 1760000000000'
    pattern = province["regex"].strip("/").replace("?<", "?P<")
    m = re.search(pattern, sample)
    assert m is not None
    assert (m.group("value"), m.group("text")) == ("38", "Thanh Hóa")
    exprs = validate.queries(board)
    assert sum('province="$province"' in e for e in exprs) >= 5


def test_variables_used_must_be_defined(boards: dict[str, Any]) -> None:
    board = copy.deepcopy(boards["civicpulse-province"])
    board["panels"][2]["targets"][0]["expr"] += " + on () vector($commune)"
    problems = validate.check_dashboard(board)
    assert any("undefined variables ['commune']" in p for p in problems)
    assert validate.used_variables({"a": "${province:text} $__rate_interval [[kind]]"}) == {
        "province", "__rate_interval", "kind"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda b: b["panels"][2].__setitem__("id", b["panels"][1]["id"]), "duplicate panel ids"),
        (lambda b: b["panels"][2]["gridPos"].__setitem__("x", 22), "outside the 24-column grid"),
        (lambda b: b["panels"][3]["gridPos"].__setitem__("x", 0), "overlap"),
        (lambda b: b["panels"][2]["gridPos"].__setitem__("w", "6"), "integers"),
        (lambda b: b["panels"][2]["datasource"].__setitem__("uid", "other"), "data source"),
        (lambda b: b["panels"][2]["targets"][0].pop("datasource"), "data source"),
        (lambda b: b["panels"][2]["targets"][0].__setitem__("expr", " "), "empty expression"),
        (lambda b: b.__setitem__("uid", "x" * 41), "uid must be"),
        (lambda b: b["panels"][2].__setitem__("type", "graph-old"), "unknown type"),
    ],
    ids=["dup-id", "grid-x", "overlap", "grid-type", "ds-uid", "ds-missing", "empty", "uid",
         "type"],
)  # fmt: skip
def test_structural_breakage_is_reported(
    boards: dict[str, Any], breakage: Any, message: str
) -> None:
    board = copy.deepcopy(boards["civicpulse-overview"])
    breakage(board)
    problems = validate.check_dashboard(board)
    assert any(message in p for p in problems), problems


def test_layout_wraps_rows_at_24_columns(th: Thresholds) -> None:
    row = Row("r", [Panel(f"p{i}", "stat", [Query("up")], width=10, height=3) for i in range(3)])
    board = dashboards.Dashboard("t", "t", "", [row]).render()
    grid = [(p["gridPos"]["x"], p["gridPos"]["y"]) for p in board["panels"][1:]]
    assert grid == [(0, 1), (10, 1), (0, 4)]
    assert validate.check_dashboard(board) == []


def test_a_kpi_row_is_one_function(th: Thresholds) -> None:
    def kpi_row(_: Thresholds) -> Row:
        return Row("KPIs", [Panel("share", "timeseries", [Query("up")], width=24)])

    title, description, rows, variables = dashboards.DASHBOARDS["civicpulse-province"]
    board = dashboards.Dashboard(
        "civicpulse-province", title, description, [r(th) for r in [*rows, kpi_row]], variables
    ).render()
    assert board["panels"][-2]["title"] == "KPIs"
    assert validate.check_dashboard(board) == []


def test_grafana_rules_mirror_the_prometheus_alerts(
    provisioning: dict[str, Any], th: Thresholds
) -> None:
    groups = provisioning["alerting/civicpulse-rules.yaml"]["groups"]
    rules = {r["uid"]: r for g in groups for r in g["rules"]}
    specs = alert_specs(th)
    assert set(rules) == {s.uid for s in specs}
    for spec in specs:
        rule = rules[spec.uid]
        assert rule["data"][0]["model"]["expr"] == spec.expr
        assert rule["labels"]["severity"] == spec.severity
        assert rule["for"] == spec.for_
        assert "$value " not in json.dumps(rule["annotations"])
    feed = next(r for r in rules.values() if r["title"] == "CivicPulseFeedSilent payment-qr")
    assert "{{ $values.A.Value | humanizeDuration }}" in feed["annotations"]["summary"]
    down = next(r for r in rules.values() if r["title"] == "CivicPulseWorkerDown")
    # up == 0 returns 0 for a firing series: the threshold step must accept it.
    assert down["data"][1]["model"]["conditions"][0]["evaluator"] == {"type": "lt", "params": [1.0]}


def test_grafana_template_translation() -> None:
    assert grafana_template("{{ $value | humanize }} {{ $values.A }} {{$value}}") == (
        "{{ $values.A.Value | humanize }} {{ $values.A }} {{$values.A.Value}}"
    )


def test_grafana_policy_mutes_stalls_during_tet(provisioning: dict[str, Any]) -> None:
    [policy] = provisioning["alerting/civicpulse-policies.yaml"]["policies"]
    stall = next(r for r in policy["routes"] if ["component", "=", "stall"] in r["object_matchers"])
    assert stall["mute_time_intervals"] == ["tet"]
    assert stall["group_by"] == ["alertname", "kind", "province"]
    timings = provisioning["alerting/civicpulse-mute-timings.yaml"]["muteTimes"]
    tet = next(t for t in timings if t["name"] == "tet")
    assert {"years": ["2026"], "months": ["february"], "days_of_month": ["13:24"],
            "location": "Asia/Ho_Chi_Minh"} in tet["time_intervals"]  # fmt: skip


def test_secrets_come_from_the_environment(provisioning: dict[str, Any]) -> None:
    text = json.dumps(provisioning["alerting/civicpulse-contact-points.yaml"])
    assert "${CIVICPULSE_TELEGRAM_BOT_TOKEN}" in text
    assert "${CIVICPULSE_WEBHOOK_TOKEN}" in text


def test_every_dashboard_query_is_valid_promql(boards: dict[str, Any], tmp_path: Path) -> None:
    """promtool parses each query (variables replaced by sample values) as a recording rule."""
    values = {"$province": "38", "${province:text}": "Thanh Hóa", "$kind": ".*",
              "$__rate_interval": "1m"}  # fmt: skip
    rules = []
    for board in boards.values():
        for i, expr in enumerate(validate.queries(board)):
            if expr.startswith(("label_values(", "query_result(")):
                inner = expr[expr.index("(") + 1 : expr.rindex(")")]
                expr = inner.rsplit(",", 1)[0] if expr.startswith("label_values(") else inner
            for var, value in values.items():
                expr = expr.replace(var, value)
            rules.append({"record": f"check:{board['uid'].replace('-', '_')}:{i}", "expr": expr})
    path = tmp_path / "dashboards.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    assert "SUCCESS" in tools.check_rules([path])
