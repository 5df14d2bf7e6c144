"""Alertmanager: amtool accepts the config; routing, grouping, inhibition and secrets."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from civicpulse.cli import app
from civicpulse.monitoring import alertmanager, artifacts, tools
from civicpulse.monitoring.exceptions import MonitoringError

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy/alertmanager/alertmanager.yml"


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    loaded = yaml.safe_load(CONFIG.read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_amtool_check_config_passes() -> None:
    out = tools.check_alertmanager(CONFIG)
    assert "SUCCESS" in out
    assert "1 templates" in out  # deploy/alertmanager/templates/civicpulse.tmpl parsed


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (["component=stall", "severity=warning", "province=01", "kind=payment.qr"], ["warning"]),
        (["component=stall", "severity=warning", "province=38"], ["province-38", "warning"]),
        (["component=stall", "severity=critical", "province=38"], ["province-38", "critical"]),
        (["component=stall", "severity=critical", "province=79"], ["critical"]),
        (["component=feed", "severity=critical", "kind=payment.qr"], ["critical"]),
        (["component=feed", "severity=warning", "kind=identity.activation"], ["warning"]),
        (["component=feed", "severity=warning", "kind=welfare.disbursement"], ["warning"]),
        (["component=pipeline", "severity=critical"], ["critical"]),
        (["component=data_quality", "severity=warning"], ["warning"]),
        (["alertname=SomethingElse"], ["webhook"]),
    ],
)
def test_routing_by_severity_and_province(labels: list[str], receivers: list[str]) -> None:
    assert tools.route_receivers(CONFIG, labels) == receivers


def _route(config: dict[str, Any], matcher: str) -> dict[str, Any]:
    return next(r for r in config["route"]["routes"] if matcher in r["matchers"])


def test_grouping_is_one_notification_per_problem(config: dict[str, Any]) -> None:
    assert _route(config, 'component="stall"')["group_by"] == ["alertname", "kind", "province"]
    # A feed outage is grouped by kind: never per commune or province.
    for route in config["route"]["routes"]:
        if 'component="feed"' in route["matchers"]:
            assert route["group_by"] == ["alertname", "kind"]


def test_inhibition(config: dict[str, Any]) -> None:
    rules = config["inhibit_rules"]
    assert {
        "source_matchers": ['alertname=~"CivicPulseFeedSilent|CivicPulseFeedOutage"'],
        "target_matchers": ['component="stall"'],
        "equal": ["kind"],
    } in rules
    assert {
        "source_matchers": [
            'alertname=~"CivicPulseWorkerDown|CivicPulseWorkerAbsent|CivicPulsePipelineStuck"'
        ],
        "target_matchers": ['component=~"stall|feed"'],
    } in rules


def test_muting_tet_for_stalls_and_holidays_for_office_feeds(config: dict[str, Any]) -> None:
    assert _route(config, 'component="stall"')["mute_time_intervals"] == ["tet"]
    office = next(r for r in config["route"]["routes"] if any("kind=~" in m for m in r["matchers"]))
    assert office["matchers"] == ['component="feed"', 'kind=~"identity.activation|service.payment"']
    assert office["mute_time_intervals"] == ["vn-public-holidays"]
    names = {t["name"] for t in config["time_intervals"]}
    assert names == {"tet", "vn-public-holidays"}


def test_receivers_webhook_email_telegram_with_secrets_outside(config: dict[str, Any]) -> None:
    receivers = {r["name"]: r for r in config["receivers"]}
    critical = receivers["critical"]
    assert critical["webhook_configs"][0]["http_config"]["authorization"] == {
        "type": "Bearer",
        "credentials_file": "/etc/civicpulse/secrets/webhook_token",
    }
    assert critical["email_configs"][0]["auth_password_file"] == (
        "/etc/civicpulse/secrets/smtp_password"
    )
    telegram = critical["telegram_configs"][0]
    assert telegram["bot_token"] == "${CIVICPULSE_TELEGRAM_BOT_TOKEN}"
    assert "telegram_configs" not in receivers["warning"]  # Telegram pages critical only
    assert receivers["province-38"]["email_configs"][0]["to"] == "ops-thanhhoa@example.org"


def test_bot_token_file_for_newer_alertmanager() -> None:
    inputs = artifacts.Inputs.load(ROOT)
    assert inputs.channels.telegram is not None
    channels = inputs.channels.model_copy(
        update={
            "telegram": inputs.channels.telegram.model_copy(
                update={"bot_token_file": "/etc/civicpulse/secrets/telegram_bot_token"}
            )
        }
    )
    text = alertmanager.alertmanager_yml(inputs.thresholds, channels)
    assert "bot_token_file: /etc/civicpulse/secrets/telegram_bot_token" in text
    assert alertmanager.env_references(text) == []


def test_render_fills_secrets_and_refuses_missing_ones() -> None:
    text = CONFIG.read_text()
    assert alertmanager.env_references(text) == ["CIVICPULSE_TELEGRAM_BOT_TOKEN"]
    token = '12345:AA-b"c'  # quoted safely whatever it holds
    rendered = alertmanager.render(text, {"CIVICPULSE_TELEGRAM_BOT_TOKEN": token})
    parsed = yaml.safe_load(rendered)
    critical = next(r for r in parsed["receivers"] if r["name"] == "critical")
    assert critical["telegram_configs"][0]["bot_token"] == token
    with pytest.raises(MonitoringError, match="CIVICPULSE_TELEGRAM_BOT_TOKEN"):
        alertmanager.render(text, {})


def test_render_command_writes_a_private_checked_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIVICPULSE_TELEGRAM_BOT_TOKEN", "12345:secret")
    out = tmp_path / "am/alertmanager.yml"
    result = CliRunner().invoke(
        app, ["monitoring", "render-alertmanager", "--out", str(out), "--root", str(ROOT)]
    )
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    parsed = yaml.safe_load(out.read_text())
    assert parsed["templates"] == [str(ROOT / "deploy/alertmanager/templates/*.tmpl")]
    assert "SUCCESS" in tools.check_alertmanager(out)
    monkeypatch.delenv("CIVICPULSE_TELEGRAM_BOT_TOKEN")
    result = CliRunner().invoke(
        app, ["monitoring", "render-alertmanager", "--out", str(out), "--root", str(ROOT)]
    )
    assert result.exit_code == 1
    assert "CIVICPULSE_TELEGRAM_BOT_TOKEN" in result.output


def _stall(ward: str, ward_name: str, status: str = "firing") -> dict[str, Any]:
    labels = {
        "alertname": "CivicPulseCommuneStall", "severity": "warning", "component": "stall",
        "kind": "identity.activation", "province": "38", "province_name": "Thanh Hóa",
        "ward": ward, "ward_name": ward_name,
    }  # fmt: skip
    return {
        "status": status,
        "labels": labels,
        "annotations": {
            "summary": f"Stall of identity.activation in {ward_name}, Thanh Hóa",
            "description": "...",
            "runbook_url": "docs/operations.md#civicpulsecommunestall",
            "dashboard_url": "http://localhost:3000/d/civicpulse-province?var-province=38",
        },
        "startsAt": "2025-10-09T08:00:00+07:00",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "",
        "fingerprint": ward,
    }


def render_template(glob: Path, name: str, data: Path, kind: str = "text") -> str:
    return tools.run(
        "amtool", "template", "render", f"--template.glob={glob}", f"--template.data={data}",
        f"--template.type={kind}", f'--template.text={{{{ template "{name}" . }}}}',
    )  # fmt: skip


@pytest.mark.parametrize("engine", ["alertmanager", "grafana"])
def test_notification_texts_name_the_communes_in_vietnamese(engine: str, tmp_path: Path) -> None:
    """A province's stalls arrive as one message listing each commune by name."""
    alerts = [_stall("14797", "Phường Hạc Thành"), _stall("16522", "Phường Quảng Phú"),
              _stall("16000", "Xã Đã Khỏi", status="resolved")]  # fmt: skip
    common = {k: v for k, v in alerts[0]["labels"].items() if k not in ("ward", "ward_name")}
    data = tmp_path / "data.json"
    data.write_text(
        json.dumps(
            {
                "receiver": "province-38",
                "status": "firing",
                "alerts": alerts,
                "groupLabels": {
                    "alertname": common["alertname"],
                    "kind": common["kind"],
                    "province": "38",
                },
                "commonLabels": common,
                "commonAnnotations": {},
                "externalURL": "http://127.0.0.1:9093",
            }
        )
    )
    if engine == "alertmanager":
        glob = ROOT / "deploy/alertmanager/templates/civicpulse.tmpl"
    else:
        doc = yaml.safe_load(
            (ROOT / "deploy/grafana/provisioning/alerting/civicpulse-templates.yaml").read_text()
        )
        glob = tmp_path / "grafana.tmpl"
        glob.write_text(doc["templates"][0]["template"])
    title = render_template(glob, "civicpulse.title", data)
    assert "CivicPulseCommuneStall · identity.activation · Thanh Hóa" in title
    assert "FIRING" in title
    text = render_template(glob, "civicpulse.text", data)
    assert "in Phường Hạc Thành, Thanh Hóa" in text
    assert "in Phường Quảng Phú, Thanh Hóa" in text
    assert "Resolved:\n* Stall of identity.activation in Xã Đã Khỏi" in text
    telegram = render_template(glob, "civicpulse.telegram", data)
    # A relative runbook link is plain text (Telegram refuses it in <a href>); absolute: a link.
    assert "runbook: docs/operations.md#civicpulsecommunestall" in telegram
    assert '<a href="http://localhost:3000/d/civicpulse-province?var-province=38">' in telegram
    if engine == "alertmanager":
        html = render_template(glob, "civicpulse.email.html", data, kind="html")
        assert "<td>Phường Hạc Thành (14797), Thanh Hóa (38)</td>" in html
