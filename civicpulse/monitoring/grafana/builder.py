"""A small, typed builder of Grafana dashboard JSON (schema of Grafana 11/12).

A dashboard is a list of `Row`s; a row is a title and `Panel`s with widths. `render` lays the
panels out left to right (wrapping at 24 columns), numbers them, and attaches the provisioned
Prometheus data source to every panel and query, so that dashboards never name another one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from civicpulse.monitoring.grafana import DATASOURCE_UID

GRID_WIDTH: Final = 24
SCHEMA_VERSION: Final = 39  # Grafana 11.0; newer Grafana migrates it on load

PanelType = Literal["timeseries", "stat", "table", "bargauge", "text", "gauge"]


def datasource() -> dict[str, str]:
    return {"type": "prometheus", "uid": DATASOURCE_UID}


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""
    instant: bool = False
    table: bool = False  # format "table": one row per series, labels as columns

    def render(self, ref_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "datasource": datasource(),
            "refId": ref_id,
            "expr": self.expr,
            "editorMode": "code",
            "range": not self.instant,
            "instant": self.instant,
        }
        if self.legend:
            out["legendFormat"] = self.legend
        if self.table:
            out["format"] = "table"
        return out


@dataclass(frozen=True)
class Threshold:
    value: float | None  # None: the base step
    color: str


GREEN_RED: Final = (Threshold(None, "green"), Threshold(1, "red"))


@dataclass(frozen=True)
class Panel:
    title: str
    type: PanelType
    queries: Sequence[Query] = ()
    width: int = 8
    height: int = 8
    unit: str = ""
    description: str = ""
    decimals: int | None = None
    thresholds: Sequence[Threshold] = ()
    min: float | None = None
    max: float | None = None
    stack: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    overrides: Sequence[dict[str, Any]] = ()
    transformations: Sequence[dict[str, Any]] = ()
    links: Sequence[dict[str, Any]] = ()
    content: str = ""  # text panels (markdown)

    def render(self, panel_id: int, x: int, y: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": panel_id,
            "type": self.type,
            "title": self.title,
            "gridPos": {"h": self.height, "w": self.width, "x": x, "y": y},
        }
        if self.description:
            out["description"] = self.description
        if self.type == "text":
            out["options"] = {"mode": "markdown", "content": self.content}
            return out
        out["datasource"] = datasource()
        out["targets"] = [q.render(_ref_id(i)) for i, q in enumerate(self.queries)]
        defaults: dict[str, Any] = {}
        if self.unit:
            defaults["unit"] = self.unit
        if self.decimals is not None:
            defaults["decimals"] = self.decimals
        if self.min is not None:
            defaults["min"] = self.min
        if self.max is not None:
            defaults["max"] = self.max
        if self.thresholds:
            defaults["thresholds"] = {
                "mode": "absolute",
                "steps": [{"color": t.color, "value": t.value} for t in self.thresholds],
            }
            defaults["color"] = {"mode": "thresholds"}
        if self.type == "timeseries":
            defaults["custom"] = {
                "drawStyle": "line",
                "lineWidth": 1,
                "fillOpacity": 10 if self.stack else 0,
                "showPoints": "never",
                "spanNulls": False,
                "stacking": {"mode": "normal" if self.stack else "none", "group": "A"},
            }
        out["fieldConfig"] = {"defaults": defaults, "overrides": list(self.overrides)}
        out["options"] = {**_default_options(self.type), **self.options}
        if self.transformations:
            out["transformations"] = list(self.transformations)
        if self.links:
            out["links"] = list(self.links)
        return out


def _ref_id(i: int) -> str:
    return chr(ord("A") + i)


def _default_options(kind: PanelType) -> dict[str, Any]:
    if kind == "timeseries":
        return {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    if kind == "stat":
        return {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area",
            "textMode": "auto",
        }
    if kind == "bargauge":
        return {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "orientation": "horizontal",
            "displayMode": "gradient",
        }
    if kind == "table":
        return {"showHeader": True, "cellHeight": "sm"}
    return {}


@dataclass(frozen=True)
class Row:
    title: str
    panels: Sequence[Panel]
    collapsed: bool = False


@dataclass(frozen=True)
class Variable:
    """A query variable over the provisioned Prometheus."""

    name: str
    label: str
    query: str  # label_values(...) or query_result(...)
    regex: str = ""
    multi: bool = False
    include_all: bool = False
    all_value: str = ""
    sort: int = 1  # alphabetical ascending

    def render(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "type": "query",
            "datasource": datasource(),
            # A plain string: every Grafana version reads it (newer ones migrate it on edit).
            "query": self.query,
            "definition": self.query,
            "refresh": 2,  # on time range change
            "regex": self.regex,
            "sort": self.sort,
            "multi": self.multi,
            "includeAll": self.include_all,
            "current": {},
            "options": [],
            "hide": 0,
        }
        if self.include_all and self.all_value:
            out["allValue"] = self.all_value
        return out


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    rows: Sequence[Row]
    variables: Sequence[Variable] = ()
    tags: Sequence[str] = ("civicpulse",)
    time_from: str = "now-24h"
    refresh: str = "1m"

    def render(self) -> dict[str, Any]:
        panels: list[dict[str, Any]] = []
        next_id = 1
        y = 0
        for row in self.rows:
            row_panel: dict[str, Any] = {
                "id": next_id,
                "type": "row",
                "title": row.title,
                "collapsed": row.collapsed,
                "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": y},
                "panels": [],
            }
            next_id += 1
            y += 1
            laid: list[dict[str, Any]] = []
            x, line_height = 0, 0
            for panel in row.panels:
                if x + panel.width > GRID_WIDTH:
                    x, y = 0, y + line_height
                    line_height = 0
                laid.append(panel.render(next_id, x, y))
                next_id += 1
                x += panel.width
                line_height = max(line_height, panel.height)
            y += line_height
            if row.collapsed:
                row_panel["panels"] = laid
                panels.append(row_panel)
            else:
                panels.append(row_panel)
                panels.extend(laid)
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": list(self.tags),
            "timezone": "browser",
            "editable": False,
            "graphTooltip": 1,
            "schemaVersion": SCHEMA_VERSION,
            "version": 1,
            "time": {"from": self.time_from, "to": "now"},
            "refresh": self.refresh,
            "templating": {"list": [v.render() for v in self.variables]},
            "annotations": {"list": []},
            "links": [
                {
                    "type": "dashboards",
                    "tags": ["civicpulse"],
                    "asDropdown": True,
                    "title": "CivicPulse",
                    "includeVars": False,
                    "keepTime": True,
                }
            ],
            "panels": panels,
        }


def dashboard_link(title: str, uid: str, query: str = "") -> dict[str, Any]:
    """A data link to another dashboard (keeps the time range)."""
    return {"title": title, "url": f"/d/{uid}?${{__url_time_range}}{query}"}
