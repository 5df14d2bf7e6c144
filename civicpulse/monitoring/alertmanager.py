"""The Alertmanager configuration: routing, grouping, inhibition, receivers.

- Grouping: a problem is one notification. Stalls are grouped per (alert, kind, province): a
  province's stalled communes arrive together; a feed outage per (alert, kind), never per
  commune; pipeline and data-quality alerts per alert name.
- Routing: by severity (warning: webhook + e-mail; critical: + Telegram, per channels.yaml) and
  by province (stall alerts of a province listed in channels.yaml also go to its team).
- Inhibition: a silent feed of a kind suppresses stall alerts of that kind (an outage looks like
  a stall everywhere); a dead worker or a stuck pipeline suppresses every stall and feed alert.
- Muting: stall notifications during Tết; office-hours feeds on public holidays.
- Secrets: ``*_file`` fields; the Telegram bot token of Alertmanager 0.25 from the environment
  at render time (`render`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from civicpulse.monitoring import yamlio
from civicpulse.monitoring.alerts import FEED_PROBLEMS, PIPELINE_FAILURES
from civicpulse.monitoring.calendar import PUBLIC_HOLIDAYS, TET, mute_intervals
from civicpulse.monitoring.exceptions import MonitoringError, ThresholdsError
from civicpulse.monitoring.thresholds import Severity, Thresholds

DEFAULT_CHANNELS: Final = Path("deploy/alertmanager/channels.yaml")
TEMPLATES_GLOB: Final = "templates/*.tmpl"
SEVERITIES: Final[tuple[Severity, ...]] = ("warning", "critical")
_ENV_REF: Final = re.compile(r"\$\{(CIVICPULSE_[A-Z0-9_]+)\}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Timing(_Model):
    group_wait: str = "30s"
    group_interval: str = "5m"
    repeat_interval: str = "4h"
    resolve_timeout: str = "5m"


class Webhook(_Model):
    url: str
    credentials_file: str | None = None
    severities: tuple[Severity, ...] = SEVERITIES
    max_alerts: int = Field(0, ge=0)


class Email(_Model):
    enabled: bool = True
    to: tuple[str, ...]
    from_: str = Field(alias="from")
    smarthost: str
    auth_username: str | None = None
    auth_password_file: str | None = None
    require_tls: bool = True
    severities: tuple[Severity, ...] = SEVERITIES


class Telegram(_Model):
    enabled: bool = True
    chat_id: int
    bot_token_env: str = "CIVICPULSE_TELEGRAM_BOT_TOKEN"
    bot_token_file: str | None = None
    severities: tuple[Severity, ...] = ("critical",)


class ProvinceTeam(_Model):
    name: str = ""
    email: tuple[str, ...] = ()


class Channels(_Model):
    timing: Timing = Timing()
    webhook: Webhook
    email: Email | None = None
    telegram: Telegram | None = None
    provinces: dict[str, ProvinceTeam] = {}


def load_channels(path: Path = DEFAULT_CHANNELS) -> Channels:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Channels.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise ThresholdsError(f"{path}: {exc}") from exc
    except ValidationError as exc:
        errors = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ThresholdsError(f"{path}: {errors}") from None


# --- receivers ------------------------------------------------------------------------------

WEBHOOK_ONLY: Final = "webhook"


def _webhook(ch: Webhook) -> dict[str, Any]:
    out: dict[str, Any] = {"url": ch.url, "send_resolved": True, "max_alerts": ch.max_alerts}
    if ch.credentials_file:
        out["http_config"] = {
            "authorization": {"type": "Bearer", "credentials_file": ch.credentials_file}
        }
    return out


def _email(ch: Email, to: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "to": ", ".join(to),
        "from": ch.from_,
        "smarthost": ch.smarthost,
        "require_tls": ch.require_tls,
        "send_resolved": True,
        "headers": {"Subject": '{{ template "civicpulse.title" . }}'},
        "html": '{{ template "civicpulse.email.html" . }}',
        "text": '{{ template "civicpulse.text" . }}',
    }
    if ch.auth_username:
        out["auth_username"] = ch.auth_username
    if ch.auth_password_file:
        out["auth_password_file"] = ch.auth_password_file
    return out


def _telegram(ch: Telegram) -> dict[str, Any]:
    out: dict[str, Any] = {"chat_id": ch.chat_id}
    if ch.bot_token_file:
        out["bot_token_file"] = ch.bot_token_file  # Alertmanager >= 0.26
    else:
        out["bot_token"] = f"${{{ch.bot_token_env}}}"  # filled by `render`
    out.update(
        {
            "parse_mode": "HTML",
            "message": '{{ template "civicpulse.telegram" . }}',
            "send_resolved": True,
        }
    )
    return out


def receivers(ch: Channels) -> list[dict[str, Any]]:
    """`webhook` (everything, machine-readable), one receiver per severity with the channels
    configured for it, and one per province team."""
    out: list[dict[str, Any]] = [{"name": WEBHOOK_ONLY, "webhook_configs": [_webhook(ch.webhook)]}]
    for severity in SEVERITIES:
        r: dict[str, Any] = {"name": severity}
        if severity in ch.webhook.severities:
            r["webhook_configs"] = [_webhook(ch.webhook)]
        if ch.email and ch.email.enabled and severity in ch.email.severities:
            r["email_configs"] = [_email(ch.email, ch.email.to)]
        if ch.telegram and ch.telegram.enabled and severity in ch.telegram.severities:
            r["telegram_configs"] = [_telegram(ch.telegram)]
        out.append(r)
    for code, team in sorted(ch.provinces.items()):
        r = {"name": f"province-{code}"}
        if ch.email and ch.email.enabled and team.email:
            r["email_configs"] = [_email(ch.email, team.email)]
        out.append(r)
    return out


# --- routes ---------------------------------------------------------------------------------


def _by_severity(mute: Sequence[str]) -> list[dict[str, Any]]:
    """Critical to `critical`, the rest to `warning`. The explicit catch-all matters: once a
    `continue` route (a province team) matched, the parent's receiver is no longer used."""
    critical: dict[str, Any] = {"matchers": ['severity="critical"'], "receiver": "critical"}
    rest: dict[str, Any] = {"receiver": "warning"}
    if mute:
        critical["mute_time_intervals"] = list(mute)
        rest["mute_time_intervals"] = list(mute)
    return [critical, rest]


def _subtree(
    matchers: list[str],
    group_by: list[str],
    mute: Sequence[str] = (),
    extra_children: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    route: dict[str, Any] = {"matchers": matchers, "receiver": "warning", "group_by": group_by}
    if mute:
        route["mute_time_intervals"] = list(mute)
    route["routes"] = [*extra_children, *_by_severity(mute)]
    return route


def route_tree(th: Thresholds, ch: Channels) -> dict[str, Any]:
    office_kinds = sorted(k for k, f in th.feeds.items() if f.office_hours_only)
    other_kinds = sorted(k for k, f in th.feeds.items() if not f.office_hours_only)
    province_routes = [
        {
            "matchers": [f'province="{code}"'],
            "receiver": f"province-{code}",
            "mute_time_intervals": [TET],
            "continue": True,  # the national channels get it too
        }
        for code in sorted(ch.provinces)
    ]
    routes = [
        _subtree(['component="stall"'], ["alertname", "kind", "province"], [TET], province_routes),
        # One notification per silent feed, whatever the number of communes it touches.
        *(
            [
                _subtree(
                    ['component="feed"', f'kind=~"{"|".join(office_kinds)}"'],
                    ["alertname", "kind"],
                    [PUBLIC_HOLIDAYS],
                )
            ]
            if office_kinds
            else []
        ),
        *([_subtree(['component="feed"'], ["alertname", "kind"])] if other_kinds else []),
        _subtree(['component=~"pipeline|data_quality"'], ["alertname"]),
    ]
    t = ch.timing
    return {
        "receiver": WEBHOOK_ONLY,  # anything no route claims still reaches the webhook
        "group_by": ["alertname", "kind"],
        "group_wait": t.group_wait,
        "group_interval": t.group_interval,
        "repeat_interval": t.repeat_interval,
        "routes": routes,
    }


def inhibit_rules() -> list[dict[str, Any]]:
    failures = "|".join(PIPELINE_FAILURES)
    feeds = "|".join(FEED_PROBLEMS)
    return [
        {
            # A feed silent everywhere is an outage: the stalls it causes are not news.
            "source_matchers": [f'alertname=~"{feeds}"'],
            "target_matchers": ['component="stall"'],
            "equal": ["kind"],
        },
        {
            # The monitor is blind (a worker down, none scraped, a stuck pipeline): what it
            # says about stalls and feeds cannot be trusted.
            "source_matchers": [f'alertname=~"{failures}"'],
            "target_matchers": ['component=~"stall|feed"'],
        },
    ]


def config(
    th: Thresholds, ch: Channels, templates: Sequence[str] = (TEMPLATES_GLOB,)
) -> dict[str, Any]:
    intervals = mute_intervals(th.calendar)
    return {
        "global": {"resolve_timeout": ch.timing.resolve_timeout},
        "templates": list(templates),
        "route": route_tree(th, ch),
        "inhibit_rules": inhibit_rules(),
        "receivers": receivers(ch),
        "time_intervals": [
            {"name": name, "time_intervals": items} for name, items in intervals.items()
        ],
    }


def alertmanager_yml(
    th: Thresholds, ch: Channels, templates: Sequence[str] = (TEMPLATES_GLOB,)
) -> str:
    return yamlio.dump(
        config(th, ch, templates),
        f"{yamlio.GENERATED}\nChannels: deploy/alertmanager/channels.yaml. Secrets: *_file paths;"
        " ${CIVICPULSE_...}\nreferences are filled from the environment by `civicpulse "
        "monitoring render-alertmanager`.",
    )


def env_references(text: str) -> list[str]:
    return sorted(set(_ENV_REF.findall(text)))


def render(text: str, env: Mapping[str, str] | None = None) -> str:
    """`text` with every ``${CIVICPULSE_...}`` replaced from `env` (default: the process
    environment); a reference with no value is an error, never an empty secret."""
    values = os.environ if env is None else env
    missing = [name for name in env_references(text) if not values.get(name)]
    if missing:
        raise MonitoringError(f"environment variables not set: {', '.join(missing)}")
    return _ENV_REF.sub(lambda m: _yaml_scalar(values[m.group(1)]), text)


def _yaml_scalar(value: str) -> str:
    # The reference sits where a YAML scalar goes: quote the value so that any token is safe.
    return yaml.safe_dump(value, default_style='"').strip().removesuffix("\n...")
