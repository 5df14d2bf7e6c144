"""Grafana provisioning files: the data source, the dashboard provider, and alerting (rules,
contact points, notification policy, mute timings, notification templates).

Grafana-managed alerting mirrors the Prometheus rules (same `AlertSpec`s, same thresholds) and
the Alertmanager routing (same tree, same channels) for a deployment that alerts from Grafana
instead of Alertmanager: run one of the two, not both, or every problem pages twice. Grafana
alerting has no inhibition rules; the mute timings (Tết, public holidays) are the same.

Grafana interpolates environment variables (``$VAR``, ``${VAR}``) in provisioning files,
annotations excepted: secrets come in that way (``${CIVICPULSE_...}``), and the notification
templates and contact-point messages avoid ``$`` altogether (``.Labels``, not ``$labels``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

from civicpulse.monitoring import yamlio
from civicpulse.monitoring.alertmanager import Channels, route_tree
from civicpulse.monitoring.alerts import AlertSpec, alert_specs
from civicpulse.monitoring.calendar import mute_intervals
from civicpulse.monitoring.grafana import (
    DATASOURCE_NAME,
    DATASOURCE_UID,
    FOLDER_TITLE,
    FOLDER_UID,
)
from civicpulse.monitoring.thresholds import Thresholds

ORG_ID: Final = 1
DASHBOARDS_PATH: Final = "/var/lib/grafana/dashboards/civicpulse"
PROMETHEUS_URL: Final = "http://127.0.0.1:9090"
CONTACT_PREFIX: Final = "civicpulse-"
_MATCHER: Final = re.compile(r'^(\w+)(=~|!~|!=|=)"(.*)"$')


def datasources() -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": DATASOURCE_NAME,
                "uid": DATASOURCE_UID,
                "type": "prometheus",
                "access": "proxy",
                "url": PROMETHEUS_URL,
                "isDefault": True,
                "editable": False,
                "jsonData": {
                    "httpMethod": "POST",
                    "timeInterval": "15s",  # the scrape interval: $__rate_interval's floor
                    "prometheusType": "Prometheus",
                },
            }
        ],
    }


def dashboard_provider() -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "civicpulse",
                "orgId": ORG_ID,
                "folder": FOLDER_TITLE,
                "folderUid": FOLDER_UID,
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 60,
                "options": {"path": DASHBOARDS_PATH, "foldersFromFilesStructure": False},
            }
        ],
    }


# --- alert rules ----------------------------------------------------------------------------


def grafana_template(text: str) -> str:
    """A Prometheus annotation template in Grafana's dialect: the query's value is
    ``$values.A.Value`` (Grafana's ``$value`` is a string of every value)."""
    return re.sub(r"\$value\b(?!s)", "$values.A.Value", text)


def alert_rule(spec: AlertSpec, th: Thresholds) -> dict[str, Any]:
    op, bound = spec.grafana_condition
    title = f"{spec.name} {spec.variant}".strip()
    annotations = {k: grafana_template(v) for k, v in spec.annotations(th).items()}
    return {
        "uid": spec.uid,
        "title": title,
        "condition": "B",
        "data": [
            {
                "refId": "A",
                "relativeTimeRange": {"from": 600, "to": 0},
                "datasourceUid": DATASOURCE_UID,
                "model": {
                    "refId": "A",
                    "datasource": {"type": "prometheus", "uid": DATASOURCE_UID},
                    "expr": spec.expr,
                    "instant": True,
                    "range": False,
                    "editorMode": "code",
                    "intervalMs": 1000,
                    "maxDataPoints": 43200,
                },
            },
            {
                # Every series the query returns is firing: the threshold only has to hold
                # for the values it can return.
                "refId": "B",
                "relativeTimeRange": {"from": 0, "to": 0},
                "datasourceUid": "__expr__",
                "model": {
                    "refId": "B",
                    "type": "threshold",
                    "expression": "A",
                    "datasource": {"type": "__expr__", "uid": "__expr__"},
                    "conditions": [{"evaluator": {"type": op, "params": [bound]}}],
                },
            },
        ],
        "noDataState": "OK",  # no series = nothing wrong (every query filters)
        "execErrState": "Error",
        "for": spec.for_,
        "annotations": annotations,
        "labels": spec.labels(),
        "isPaused": False,
    }


def alert_rules(th: Thresholds) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for spec in alert_specs(th):
        groups.setdefault(spec.group, []).append(alert_rule(spec, th))
    return {
        "apiVersion": 1,
        "groups": [
            {
                "orgId": ORG_ID,
                "name": name,
                "folder": FOLDER_TITLE,
                "interval": "1m",
                "rules": rules,
            }
            for name, rules in groups.items()
        ],
    }


# --- contact points, policy, mute timings, templates ---------------------------------------


def _contact(name: str) -> str:
    return CONTACT_PREFIX + name


def contact_points(ch: Channels) -> dict[str, Any]:
    """One contact point per Alertmanager receiver, with the same integrations."""
    points = []

    def webhook(uid: str) -> dict[str, Any]:
        settings: dict[str, Any] = {"url": ch.webhook.url, "httpMethod": "POST"}
        if ch.webhook.credentials_file:
            settings["authorization_scheme"] = "Bearer"
            settings["authorization_credentials"] = "${CIVICPULSE_WEBHOOK_TOKEN}"
        return {"uid": uid, "type": "webhook", "settings": settings}

    def email(uid: str, to: Iterable[str]) -> dict[str, Any]:
        return {
            "uid": uid,
            "type": "email",
            "settings": {
                "addresses": ";".join(to),
                "singleEmail": True,
                "subject": '{{ template "civicpulse.title" . }}',
                "message": '{{ template "civicpulse.text" . }}',
            },
        }

    def telegram(uid: str) -> dict[str, Any]:
        assert ch.telegram is not None
        return {
            "uid": uid,
            "type": "telegram",
            "settings": {
                "bottoken": "${" + ch.telegram.bot_token_env + "}",
                "chatid": str(ch.telegram.chat_id),
                "parse_mode": "HTML",
                "message": '{{ template "civicpulse.telegram" . }}',
            },
        }

    points.append({"orgId": ORG_ID, "name": _contact("webhook"), "receivers": [webhook("cp-wh")]})
    for severity in ("warning", "critical"):
        receivers = []
        if severity in ch.webhook.severities:
            receivers.append(webhook(f"cp-{severity}-wh"))
        if ch.email and ch.email.enabled and severity in ch.email.severities:
            receivers.append(email(f"cp-{severity}-mail", ch.email.to))
        if ch.telegram and ch.telegram.enabled and severity in ch.telegram.severities:
            receivers.append(telegram(f"cp-{severity}-tg"))
        points.append({"orgId": ORG_ID, "name": _contact(severity), "receivers": receivers})
    for code, team in sorted(ch.provinces.items()):
        if ch.email and ch.email.enabled and team.email:
            points.append(
                {
                    "orgId": ORG_ID,
                    "name": _contact(f"province-{code}"),
                    "receivers": [email(f"cp-province-{code}-mail", team.email)],
                }
            )
    return {"apiVersion": 1, "contactPoints": points}


def _policy(route: dict[str, Any], known: set[str]) -> dict[str, Any]:
    """An Alertmanager route as a Grafana notification policy."""
    out: dict[str, Any] = {}
    receiver = _contact(route["receiver"])
    out["receiver"] = receiver if receiver in known else _contact("webhook")
    if "matchers" in route:
        out["object_matchers"] = [_object_matcher(m) for m in route["matchers"]]
    for key in ("group_by", "group_wait", "group_interval", "repeat_interval", "continue"):
        if key in route:
            out[key] = route[key]
    if "mute_time_intervals" in route:
        out["mute_time_intervals"] = route["mute_time_intervals"]
    if route.get("routes"):
        out["routes"] = [_policy(r, known) for r in route["routes"]]
    return out


def _object_matcher(matcher: str) -> list[str]:
    m = _MATCHER.match(matcher)
    if not m:
        raise ValueError(f"cannot translate matcher {matcher!r}")
    return [m.group(1), m.group(2), m.group(3)]


def policies(th: Thresholds, ch: Channels) -> dict[str, Any]:
    known = {p["name"] for p in contact_points(ch)["contactPoints"]}
    tree = _policy(route_tree(th, ch), known)
    # Grafana names a rule's alerts after its title; keep folder in the grouping, as Grafana's
    # default policy does.
    tree["group_by"] = ["grafana_folder", *tree["group_by"]]
    return {"apiVersion": 1, "policies": [{"orgId": ORG_ID, **tree}]}


def mute_timings(th: Thresholds) -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "muteTimes": [
            {"orgId": ORG_ID, "name": name, "time_intervals": items}
            for name, items in mute_intervals(th.calendar).items()
        ],
    }


NOTIFICATION_TEMPLATE: Final = """\
{{ define "civicpulse.title" -}}
[{{ .Status | toUpper }}{{ if eq .Status "firing" }} x{{ .Alerts.Firing | len }}{{ end }}]
{{- " " }}{{ .CommonLabels.alertname }}
{{- with .CommonLabels.kind }} · {{ . }}{{ end }}
{{- with .CommonLabels.province_name }} · {{ . }}{{ end }}
{{- end }}

{{ define "civicpulse.text" -}}
{{ template "civicpulse.title" . }}
{{ range .Alerts.Firing }}
* [{{ .Labels.severity }}] {{ .Annotations.summary }}
  {{ .Annotations.description }}
  Runbook: {{ .Annotations.runbook_url }}
  Dashboard: {{ .Annotations.dashboard_url }}
{{ end }}{{ if .Alerts.Resolved }}
Resolved:
{{ range .Alerts.Resolved }}* {{ .Annotations.summary }}
{{ end }}{{ end }}
{{- end }}

{{ define "civicpulse.telegram" -}}
<b>{{ template "civicpulse.title" . }}</b>
{{ range .Alerts.Firing }}
{{ if eq .Labels.severity "critical" }}🔴{{ else }}🟠{{ end }} {{ .Annotations.summary }}
{{ with .Annotations.runbook_url }}{{ if match "^https?://" . }}<a href="{{ . }}">runbook</a>
{{- else }}runbook: {{ . }}{{ end }}{{ end }} ·
{{- with .Annotations.dashboard_url }} {{ if match "^https?://" . }}<a href="{{ . }}">dashboard</a>
{{- else }}dashboard: {{ . }}{{ end }}{{ end }}
{{ end }}{{ range .Alerts.Resolved }}
✅ {{ .Annotations.summary }}{{ end }}
{{- end }}
"""


def notification_templates() -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "templates": [{"orgId": ORG_ID, "name": "civicpulse", "template": NOTIFICATION_TEMPLATE}],
    }


def files(th: Thresholds, ch: Channels) -> dict[str, str]:
    """Provisioning files by path under ``deploy/grafana/provisioning``."""
    header = yamlio.GENERATED
    secrets = (
        "\nSecrets come from the environment when Grafana starts: "
        + ", ".join(sorted(set(re.findall(r"\$\{(CIVICPULSE_\w+)\}", str(contact_points(ch))))))
        + "."
    )
    return {
        "datasources/civicpulse.yaml": yamlio.dump(datasources(), header),
        "dashboards/civicpulse.yaml": yamlio.dump(
            dashboard_provider(),
            header + f"\nCopy or mount deploy/grafana/dashboards/ at {DASHBOARDS_PATH}.",
        ),
        "alerting/civicpulse-rules.yaml": yamlio.dump(
            alert_rules(th),
            header + "\nGrafana-managed copies of the Prometheus alerts: use these OR "
            "Prometheus + Alertmanager.",
        ),
        "alerting/civicpulse-contact-points.yaml": yamlio.dump(
            contact_points(ch), header + secrets
        ),
        "alerting/civicpulse-policies.yaml": yamlio.dump(
            policies(th, ch),
            header + "\nReplaces the organisation's notification policy tree.",
        ),
        "alerting/civicpulse-mute-timings.yaml": yamlio.dump(mute_timings(th), header),
        "alerting/civicpulse-templates.yaml": yamlio.dump(notification_templates(), header),
    }
