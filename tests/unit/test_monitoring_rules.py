"""Prometheus rules: every alert documented, tested both ways by promtool, and valid."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml

from civicpulse.monitoring import alerts, artifacts, thresholds, tools
from civicpulse.monitoring.promql import metric_names

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy/prometheus"
TESTS = PROM / "tests"


def rules(kind: str) -> list[dict[str, Any]]:
    doc = yaml.safe_load((PROM / f"rules/civicpulse-{kind}.yml").read_text())
    return [r for g in doc["groups"] for r in g["rules"]]


def github_anchors(markdown: str) -> set[str]:
    """Anchors GitHub gives to headings: lower case, punctuation dropped, spaces to dashes."""
    out = set()
    for line in markdown.splitlines():
        m = re.match(r"^#{1,6}\s+(.*)$", line)
        if m:
            text = unicodedata.normalize("NFC", m.group(1).strip().lower())
            out.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return out


def test_every_alert_has_summary_description_runbook_dashboard_and_severity() -> None:
    for rule in rules("alerts"):
        where = rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical"), where
        assert rule["labels"]["component"] in ("stall", "feed", "pipeline", "data_quality")
        ann = rule["annotations"]
        assert ann["summary"], where
        assert ann["description"], where
        assert ann["runbook_url"] == f"docs/operations.md#{where.lower()}"
        assert ann["dashboard_url"].startswith("http://localhost:3000/d/civicpulse-")


def test_every_runbook_anchor_exists_in_the_operations_doc() -> None:
    anchors = github_anchors((ROOT / "docs/operations.md").read_text())
    for rule in rules("alerts"):
        anchor = rule["annotations"]["runbook_url"].split("#", 1)[1]
        assert anchor in anchors, f"docs/operations.md has no '### {rule['alert']}' section"


def test_stall_alerts_join_vietnamese_names() -> None:
    for rule in rules("alerts"):
        if rule["labels"]["component"] == "stall":
            assert "province_name" in rule["expr"]
            assert "{{ $labels.province_name }}" in rule["annotations"]["description"]


def test_locality_overrides_partition_the_localities() -> None:
    """With overrides, each stall matches exactly one rule: the default excludes them."""
    raw = yaml.safe_load((ROOT / artifacts.THRESHOLDS).read_text())
    raw["stalls"]["overrides"] = [
        {"province": "11", "for": "6h"},
        {"province": "11", "ward": "03325", "severity": "critical"},
        {"province": "38", "ward": "14797", "for": "1h"},
    ]
    th = thresholds.parse(raw)
    commune = [s for s in alerts.stall_alerts(th) if s.name == alerts.COMMUNE_STALL]
    exprs = {s.variant: s.expr.splitlines()[1] for s in commune}
    assert 'civicpulse_stalled{ward!~"|03325|14797", province!~"11"}' in exprs[""]
    assert 'civicpulse_stalled{province="11", ward!~"|03325"}' in exprs["p11"]
    assert 'civicpulse_stalled{province="11", ward="03325"}' in exprs["w03325"]
    by_variant = {s.variant: s for s in commune}
    # The commune inherits its province's delay, and sets its own severity.
    assert (by_variant["w03325"].for_, by_variant["w03325"].severity) == ("6h", "critical")
    assert (by_variant["w14797"].for_, by_variant["w14797"].severity) == ("1h", "warning")
    assert {s.labels()["threshold"] for s in commune} == {
        "default", "province-11", "commune-03325", "commune-14797"
    }  # fmt: skip


def promtool_cases() -> dict[str, dict[str, list[dict[str, Any]]]]:
    """alertname -> {"quiet": [...], "firing": [...]} over deploy/prometheus/tests/*.yml."""
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for path in sorted(TESTS.glob("*.yml")):
        doc = yaml.safe_load(path.read_text())
        assert "../rules/civicpulse-alerts.yml" in doc["rule_files"] or path.name == (
            "recording.yml"
        )
        for test in doc["tests"]:
            for case in test.get("alert_rule_test", []):
                cases = out.setdefault(case["alertname"], {"quiet": [], "firing": []})
                if case["exp_alerts"]:
                    cases["firing"].extend(case["exp_alerts"])
                else:
                    cases["quiet"].append(case)
    return out


def test_every_alert_is_tested_not_firing_before_and_firing_after() -> None:
    cases = promtool_cases()
    for rule in rules("alerts"):
        name = rule["alert"]
        assert cases.get(name, {}).get("quiet"), f"{name}: no test where it must not fire"
        assert cases.get(name, {}).get("firing"), f"{name}: no test where it fires"


def test_every_rule_variant_fires_in_a_test() -> None:
    """Rules sharing a name (a feed per kind, a stall per threshold) are each exercised."""
    firing = promtool_cases()
    for rule in rules("alerts"):
        static = rule["labels"]
        fired = firing[rule["alert"]]["firing"]
        assert any(
            all(alert["exp_labels"].get(k) == v for k, v in static.items()) for alert in fired
        ), f"no promtool test fires {rule['alert']} with labels {static}"


def test_promtool_check_rules_and_config() -> None:
    tools.check_rules(sorted((PROM / "rules").glob("*.yml")))
    out = tools.check_config(PROM / "prometheus.yml")
    assert "SUCCESS" in out


def test_promtool_unit_tests_pass() -> None:
    files = sorted(p.name for p in TESTS.glob("*.yml"))
    assert len(files) >= 5
    out = tools.run_rule_tests([Path(f) for f in files], cwd=TESTS)
    assert "FAILED" not in out


def test_a_broken_threshold_is_caught_by_the_promtool_tests(tmp_path: Path) -> None:
    """The promtool tests pin the thresholds: generating with another QR threshold fails."""
    raw = yaml.safe_load((ROOT / artifacts.THRESHOLDS).read_text())
    raw["feeds"]["payment.qr"]["silent_after"] = "20m"
    th = thresholds.parse(raw)
    from civicpulse.monitoring import prometheus

    (tmp_path / "rules").mkdir()
    (tmp_path / "tests").mkdir()
    (tmp_path / "rules/civicpulse-alerts.yml").write_text(prometheus.alerts_file(th))
    (tmp_path / "tests/feeds.yml").write_text((TESTS / "feeds.yml").read_text())
    with pytest.raises(tools.ToolError, match="FAILED"):
        tools.run_rule_tests([Path("feeds.yml")], cwd=tmp_path / "tests")


def test_alert_expressions_read_only_metrics_or_up() -> None:
    for rule in rules("alerts"):
        for name in metric_names(rule["expr"]):
            assert name == "up" or name.startswith("civicpulse_"), (rule["alert"], name)


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'sum by (kind) (rate(civicpulse_events_total{kind=~"a|b"}[5m]))',
            {"civicpulse_events_total"},
        ),
        ("up == 0 and on (instance) x:y:z offset 5m", {"up", "x:y:z"}),
        ("histogram_quantile(0.99, sum by (le) (rate(m_bucket[$__rate_interval])))", {"m_bucket"}),
        ("deriv(sum(lag)[10m:1m]) > 0", {"lag"}),
        ("a * on (province) group_left (province_name) b", {"a", "b"}),
        ('label_replace(a, "dst", "x", "", "")', {"a"}),
        (
            'label_values(civicpulse_ward_info{province="$province"}, ward)',
            {"civicpulse_ward_info"},
        ),
        ("query_result(max by (province, province_name) (info))", {"info"}),
        ("vector(time() + 25200) >= 570 and day_of_week() == 1", set()),
        ("count(x) or vector(0)", {"x"}),
        ("sum without (instance) (y) unless z", {"y", "z"}),
        ("1e3 * a / bool b", {"a", "b"}),
    ],
)  # fmt: skip
def test_metric_names_out_of_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names
