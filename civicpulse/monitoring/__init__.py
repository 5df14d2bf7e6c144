"""Monitoring as code: Prometheus rules, Alertmanager and Grafana provisioning, generated.

Everything under ``deploy/prometheus``, ``deploy/alertmanager`` and ``deploy/grafana`` that is
marked "generated" comes from this package and the single threshold file
``deploy/thresholds.yaml``: ``civicpulse monitoring generate`` writes it, ``civicpulse monitoring
check`` proves the committed files are what the code generates and that they are valid.

- `thresholds`: the threshold file's model (the one place to tune alerting);
- `alerts`, `recording`: the alert and recording rules, as data;
- `prometheus`: rule files and ``prometheus.yml``; `alertmanager`: routing, inhibition,
  receivers; `calendar`: Vietnamese public holidays and Tết as mute intervals;
- `grafana`: dashboards (a small builder) and Grafana provisioning;
- `promql`: metric names out of PromQL, for the "every metric exists" check;
- `artifacts`: every generated file, by path; `tools`: promtool / amtool runs.
"""
