"""Structural checks of dashboards and Grafana provisioning, as far as they go without a
running Grafana: what a stock Grafana would reject or silently render empty.

Each check returns a list of problems (empty: valid); `check_all` raises on any.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

from civicpulse.monitoring.exceptions import ArtifactValidationError
from civicpulse.monitoring.grafana import DATASOURCE_UID
from civicpulse.monitoring.grafana.builder import GRID_WIDTH

# Variables Grafana defines itself.
BUILTIN_VARIABLES: Final = frozenset(
    {
        "__interval", "__interval_ms", "__rate_interval", "__rate_interval_ms", "__range",
        "__range_s", "__range_ms", "__from", "__to", "__dashboard", "__org", "__user",
        "__name", "__data", "__value", "__field", "__series", "__url_time_range",
        "__all_variables", "__timezone", "timeFilter", "__timeFilter",
    }
)  # fmt: skip
# $var, ${var}, ${var:format}, ${var.path}, [[var]]
_VARIABLE: Final = re.compile(r"\$\{(\w+)[^}]*\}|\$(\w+)|\[\[(\w+)(?::\w+)?\]\]")
_UID: Final = re.compile(r"^[a-zA-Z0-9_-]{1,40}$")
_PANEL_TYPES: Final = frozenset(
    {"row", "timeseries", "stat", "table", "bargauge", "text", "gauge", "barchart", "piechart"}
)


def _walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def panels(dashboard: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every panel, rows and panels inside collapsed rows included."""
    out: list[dict[str, Any]] = []
    for panel in dashboard.get("panels", []):
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def used_variables(node: Any) -> set[str]:
    names: set[str] = set()
    for value in _walk(node):
        if isinstance(value, str):
            for match in _VARIABLE.finditer(value):
                names.add(next(g for g in match.groups() if g))
    return names


def queries(dashboard: Mapping[str, Any]) -> list[str]:
    """Every PromQL expression of the dashboard: panel targets and variable queries."""
    out = [t["expr"] for p in panels(dashboard) for t in p.get("targets", []) if "expr" in t]
    for var in dashboard.get("templating", {}).get("list", []):
        query = var.get("query")
        out.append(query["query"] if isinstance(query, dict) else str(query))
    return out


def check_dashboard(d: Mapping[str, Any]) -> list[str]:
    where = d.get("uid", "?")
    problems: list[str] = []

    def bad(msg: str) -> None:
        problems.append(f"dashboard {where}: {msg}")

    for key in ("uid", "title", "panels", "schemaVersion", "templating"):
        if key not in d:
            bad(f"missing {key}")
    if not _UID.match(str(d.get("uid", ""))):
        bad("uid must be 1-40 characters of [a-zA-Z0-9_-]")

    all_panels = panels(d)
    ids = [p.get("id") for p in all_panels]
    dupes = sorted({i for i in ids if ids.count(i) > 1}, key=str)
    if dupes:
        bad(f"duplicate panel ids {dupes}")
    if any(not isinstance(i, int) or i < 1 for i in ids):
        bad("panel ids must be positive integers")

    boxes: list[tuple[int, int, int, int, str]] = []
    for p in all_panels:
        title = p.get("title", "?")
        if p.get("type") not in _PANEL_TYPES:
            bad(f"panel {title!r}: unknown type {p.get('type')!r}")
        grid = p.get("gridPos", {})
        try:
            x, y, w, h = (int(grid[k]) for k in ("x", "y", "w", "h"))
        except (KeyError, TypeError, ValueError):
            bad(f"panel {title!r}: gridPos needs integer x, y, w, h")
            continue
        if any(not isinstance(grid[k], int) for k in ("x", "y", "w", "h")):
            bad(f"panel {title!r}: gridPos values must be integers")
        if w < 1 or h < 1 or x < 0 or y < 0 or x + w > GRID_WIDTH:
            bad(f"panel {title!r}: gridPos {grid} outside the 24-column grid")
        for ox, oy, ow, oh, other in boxes:
            if x < ox + ow and ox < x + w and y < oy + oh and oy < y + h:
                bad(f"panels {other!r} and {title!r} overlap")
        boxes.append((x, y, w, h, title))
        if p.get("type") in ("row", "text"):
            continue
        _check_datasource(p.get("datasource"), f"panel {title!r}", bad)
        targets = p.get("targets", [])
        if not targets:
            bad(f"panel {title!r}: no query")
        refs = [t.get("refId") for t in targets]
        if len(refs) != len(set(refs)):
            bad(f"panel {title!r}: duplicate refId")
        for t in targets:
            _check_datasource(t.get("datasource"), f"panel {title!r} query", bad)
            if not str(t.get("expr", "")).strip():
                bad(f"panel {title!r}: empty expression")

    defined = {v.get("name") for v in d.get("templating", {}).get("list", [])}
    for var in d.get("templating", {}).get("list", []):
        _check_datasource(var.get("datasource"), f"variable {var.get('name')}", bad)
    undefined = used_variables(d) - defined - BUILTIN_VARIABLES
    if undefined:
        bad(f"undefined variables {sorted(undefined)}")
    return problems


def _check_datasource(ref: Any, where: str, bad: Any) -> None:
    if not isinstance(ref, dict) or ref.get("uid") != DATASOURCE_UID:
        bad(f"{where}: data source must be {{uid: {DATASOURCE_UID}}}, got {ref!r}")


def check_dashboards(dashboards: Iterable[Mapping[str, Any]]) -> list[str]:
    problems: list[str] = []
    seen_uids: set[str] = set()
    seen_titles: set[str] = set()
    for d in dashboards:
        problems += check_dashboard(d)
        uid, title = str(d.get("uid")), str(d.get("title"))
        if uid in seen_uids:
            problems.append(f"two dashboards with uid {uid}")
        if title in seen_titles:
            problems.append(f"two dashboards titled {title!r}")
        seen_uids.add(uid)
        seen_titles.add(title)
    return problems


def check_provisioning(files: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Cross-references between the provisioning files (parsed YAML by relative path)."""
    problems: list[str] = []
    ds = files["datasources/civicpulse.yaml"]["datasources"]
    if [d["uid"] for d in ds] != [DATASOURCE_UID]:
        problems.append(f"the provisioned data source uid must be {DATASOURCE_UID}")
    rules = [r for g in files["alerting/civicpulse-rules.yaml"]["groups"] for r in g["rules"]]
    uids = [r["uid"] for r in rules]
    if len(uids) != len(set(uids)):
        problems.append("duplicate Grafana alert rule uids")
    titles = [r["title"] for r in rules]
    if len(titles) != len(set(titles)):
        problems.append("duplicate Grafana alert rule titles (one folder)")
    for r in rules:
        if not _UID.match(r["uid"]):
            problems.append(f"rule uid {r['uid']!r} is not 1-40 characters of [a-zA-Z0-9_-]")
        refs = {q["refId"] for q in r["data"]}
        if r["condition"] not in refs:
            problems.append(f"rule {r['title']}: condition {r['condition']} is no query")
        for q in r["data"]:
            if q["datasourceUid"] not in (DATASOURCE_UID, "__expr__"):
                problems.append(f"rule {r['title']}: unknown data source {q['datasourceUid']}")
        if r["labels"].get("severity") not in ("warning", "critical"):
            problems.append(f"rule {r['title']}: severity must be warning or critical")
        for key in ("summary", "description", "runbook_url"):
            if not r["annotations"].get(key):
                problems.append(f"rule {r['title']}: no {key}")
        # Labels are env-interpolated by Grafana: a `$` there would be eaten.
        if any("$" in v for v in r["labels"].values()):
            problems.append(f"rule {r['title']}: `$` in a label is interpolated by Grafana")

    contacts = {
        c["name"] for c in files["alerting/civicpulse-contact-points.yaml"]["contactPoints"]
    }
    mutes = {m["name"] for m in files["alerting/civicpulse-mute-timings.yaml"]["muteTimes"]}

    def walk(policy: Mapping[str, Any]) -> None:
        if policy["receiver"] not in contacts:
            problems.append(f"policy receiver {policy['receiver']} is no contact point")
        for name in policy.get("mute_time_intervals", []):
            if name not in mutes:
                problems.append(f"policy mutes with unknown timing {name}")
        for child in policy.get("routes", []):
            walk(child)

    for policy in files["alerting/civicpulse-policies.yaml"]["policies"]:
        walk(policy)

    # Contact points and templates are env-interpolated: only ${CIVICPULSE_...} may use `$`.
    for name in ("alerting/civicpulse-contact-points.yaml", "alerting/civicpulse-templates.yaml"):
        for value in _walk(files[name]):
            if isinstance(value, str):
                stray = re.sub(r"\$\{CIVICPULSE_[A-Z0-9_]+\}", "", value)
                if "$" in stray:
                    problems.append(f"{name}: `$` outside a ${{CIVICPULSE_...}} reference")
    return problems


def check_all(
    dashboards: Iterable[Mapping[str, Any]], provisioning: Mapping[str, Mapping[str, Any]]
) -> None:
    problems = check_dashboards(dashboards) + check_provisioning(provisioning)
    if problems:
        raise ArtifactValidationError("; ".join(problems))
