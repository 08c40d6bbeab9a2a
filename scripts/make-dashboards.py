#!/usr/bin/env python3
"""Generates the Grafana dashboards in Dashboards/ from the KPI templates.

    python3 scripts/make-dashboards.py            # writes Dashboards/<template>.json and kpid-health.json
    python3 scripts/make-dashboards.py --check    # exits 1 if a committed dashboard differs

One dashboard per Queries/templates/<template>.yaml (Grafana 10/11 schema, schemaVersion 39):
variables `datasource` (a Prometheus data source), `site` (sites that have KPI values of the
template) and `window` (1h, 24h, 7d, 28d); a status table of every KPI; per KPI a stat panel
(value coloured by its status against target and warning, and the target) and a time series
of value, target and warning. The KPI dashboards read the series kpid records every KPI round
(kpid_kpi_value, _target, _warning, _status), so they work on kpid's own Prometheus API.
kpid-health.json graphs kpid's own /metrics (ingest, rejections, HTTP latency, SQLite commits,
series, memory, KPI evaluation), which needs a Prometheus that scrapes kpid.

Needs PyYAML (Debian: python3-yaml). The output is deterministic: same templates, same bytes.
"""

import json
import os
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATES = os.path.join(ROOT, "Queries", "templates")
OUT = os.path.join(ROOT, "Dashboards")

SCHEMA_VERSION = 39
WINDOWS = ["1h", "24h", "7d", "28d"]
DEFAULT_WINDOW = "7d"

# kpid units (TemplateLoader.units) -> Grafana unit ids.
UNITS = {
    "%": "percent",
    "s": "s",
    "min": "m",
    "h": "h",
    "d": "d",
    "count": "short",
    "people": "suffix: people",
    "per_hour": "suffix: /h",
    "per_day": "suffix: /day",
    "usd": "currencyUSD",
    "ratio": "short",
}

STATUS_COLORS = {
    0: ("green", "on target"),
    1: ("orange", "warning"),
    2: ("red", "off target"),
    3: ("#8e8e8e", "insufficient data"),
}

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def grafana_unit(unit):
    if unit not in UNITS:
        raise SystemExit(f"unit {unit!r} has no Grafana unit in scripts/make-dashboards.py")
    return UNITS[unit]


def datasource_variable():
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "includeAll": False,
        "multi": False,
        "options": [],
        "refresh": 1,
        "regex": "",
        "skipUrlSync": False,
    }


def query_variable(name, label, query, include_all=False):
    variable = {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "definition": query,
        # A query string: every Grafana 10/11 Prometheus data source reads label_values(...) in it.
        "query": query,
        "current": {},
        "hide": 0,
        "includeAll": include_all,
        "multi": False,
        "options": [],
        "refresh": 2,
        "regex": "",
        "skipUrlSync": False,
        "sort": 1,
    }
    if include_all:
        variable["allValue"] = ".*"
    return variable


def window_variable():
    return {
        "name": "window",
        "label": "Window",
        "type": "custom",
        "query": ",".join(WINDOWS),
        "current": {"selected": True, "text": DEFAULT_WINDOW, "value": DEFAULT_WINDOW},
        "hide": 0,
        "includeAll": False,
        "multi": False,
        "options": [
            {"selected": w == DEFAULT_WINDOW, "text": w, "value": w} for w in WINDOWS
        ],
        "skipUrlSync": False,
    }


def target(expr, ref, legend, instant=False, table=False):
    t = {
        "datasource": DATASOURCE,
        "editorMode": "code",
        "expr": expr,
        "legendFormat": legend,
        "range": not instant,
        "instant": instant,
        "refId": ref,
    }
    if table:
        t["format"] = "table"
    return t


def dashboard(uid, title, description, tags, variables, panels, time_from="now-7d", refresh="1m"):
    return {
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "description": description,
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [
            {
                "asDropdown": True,
                "icon": "external link",
                "includeVars": False,
                "keepTime": True,
                "tags": ["kpid"],
                "targetBlank": False,
                "title": "kpid dashboards",
                "type": "dashboards",
            }
        ],
        "panels": panels,
        "refresh": refresh,
        "schemaVersion": SCHEMA_VERSION,
        "tags": tags,
        "templating": {"list": variables},
        "time": {"from": time_from, "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "title": title,
        "uid": uid,
        "version": 1,
        "weekStart": "",
    }


class Layout:
    """Assigns panel ids and grid positions, row by row (Grafana's grid is 24 wide)."""

    def __init__(self):
        self.next_id = 1
        self.y = 0

    def place(self, panel, x, w, h):
        panel["id"] = self.next_id
        self.next_id += 1
        panel["gridPos"] = {"h": h, "w": w, "x": x, "y": self.y}
        return panel

    def advance(self, h):
        self.y += h


def row(title, layout):
    panel = {"type": "row", "title": title, "collapsed": False, "panels": []}
    layout.place(panel, 0, 24, 1)
    layout.advance(1)
    return panel


def selector(metric, template, kpi=None):
    labels = f'site="$site",template="{template}"'
    if kpi is not None:
        labels += f',kpi="{kpi}"'
    return f'{metric}{{{labels},window="$window"}}'


def status_color_expr(template, kpi):
    """One series whose `color` label names the status colour (for Grafana's "config from query
    results" colour handler)."""
    status = selector("kpid_kpi_status", template, kpi)
    parts = [
        f'label_replace({status} == {code}, "color", "{color}", "", "")'
        for code, (color, _) in STATUS_COLORS.items()
    ]
    return " or ".join(parts)


def status_mappings():
    return [
        {
            "type": "value",
            "options": {
                str(code): {"color": color, "index": code, "text": text}
                for code, (color, text) in STATUS_COLORS.items()
            },
        }
    ]


def status_table(template, kpis, layout):
    titles = {k["id"]: k["title"] for k in kpis}

    def per_kpi(metric):
        # Without __name__, so Grafana's merge joins the four results on kpi and unit.
        return f"max by (kpi, unit) ({selector(metric, template)})"

    panel = {
        "type": "table",
        "title": "Status of every KPI ($window window)",
        "description": "Latest value, target and warning of each KPI over the selected rolling window, "
        "with its status (green: meets the target; amber: between target and warning; red: beyond the warning). "
        "Targets of totals are scaled to the window.",
        "datasource": DATASOURCE,
        "targets": [
            target(per_kpi("kpid_kpi_value"), "A", "value", instant=True, table=True),
            target(per_kpi("kpid_kpi_target"), "B", "target", instant=True, table=True),
            target(per_kpi("kpid_kpi_warning"), "C", "warning", instant=True, table=True),
            target(per_kpi("kpid_kpi_status"), "D", "status", instant=True, table=True),
        ],
        "transformations": [
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {
                    "excludeByName": {
                        "Time": True,
                        "__name__": True,
                        "site": True,
                        "template": True,
                        "window": True,
                        "job": True,
                        "instance": True,
                    },
                    "indexByName": {"kpi": 0, "Value #A": 1, "unit": 2, "Value #B": 3, "Value #C": 4, "Value #D": 5},
                    "renameByName": {
                        "kpi": "KPI",
                        "unit": "Unit",
                        "Value #A": "Value",
                        "Value #B": "Target",
                        "Value #C": "Warning",
                        "Value #D": "Status",
                    },
                },
            },
        ],
        "fieldConfig": {
            "defaults": {
                "custom": {"align": "auto", "cellOptions": {"type": "auto"}, "inspect": False},
                "decimals": 2,
                "mappings": [],
                "thresholds": {"mode": "absolute", "steps": [{"color": "text", "value": None}]},
            },
            "overrides": [
                {
                    "matcher": {"id": "byName", "options": "KPI"},
                    "properties": [
                        {
                            "id": "mappings",
                            "value": [
                                {
                                    "type": "value",
                                    "options": {
                                        kid: {"index": i, "text": titles[kid]} for i, kid in enumerate(titles)
                                    },
                                }
                            ],
                        },
                        {"id": "custom.width", "value": 320},
                    ],
                },
                {
                    "matcher": {"id": "byName", "options": "Status"},
                    "properties": [
                        {"id": "mappings", "value": status_mappings()},
                        {"id": "custom.cellOptions", "value": {"type": "color-background", "mode": "basic"}},
                        {"id": "decimals", "value": 0},
                    ],
                },
            ],
        },
        "options": {
            "cellHeight": "sm",
            "footer": {"show": False, "reducer": ["sum"], "countRows": False, "fields": ""},
            "showHeader": True,
            "sortBy": [{"displayName": "Status", "desc": True}],
        },
    }
    height = 3 + len(kpis)
    layout.place(panel, 0, 24, height)
    layout.advance(height)
    return panel


def kpi_stat(template, kpi, layout):
    unit = grafana_unit(kpi["unit"])
    panel = {
        "type": "stat",
        "title": kpi["title"],
        "description": f'{kpi["description"].rstrip(". ")}; {kpi["direction"].replace("_", " ")}, '
        f'template target {kpi["target"]}, warning {kpi["warning"]}'
        + (f' per {kpi["target_window"]}' if kpi.get("target_window") else "")
        + ". The value is coloured by kpid's status against the site's target and warning for the window: "
        "green meets the target, amber is within the warning, red beyond it.",
        "datasource": DATASOURCE,
        "targets": [
            target(selector("kpid_kpi_value", template, kpi["id"]), "A", "value", instant=True),
            target(selector("kpid_kpi_target", template, kpi["id"]), "B", "target", instant=True),
            target(status_color_expr(template, kpi["id"]), "S", "status", instant=True, table=True),
        ],
        # The status query sets the value's colour (its `color` label); it is not displayed.
        "transformations": [
            {
                "id": "configFromData",
                "options": {
                    "configRefId": "S",
                    "applyTo": {"id": "byFrameRefID", "options": "A"},
                    "mappings": [
                        {"fieldName": "color", "handlerKey": "color"},
                        {"fieldName": "unit", "handlerKey": "__ignore"},
                        {"fieldName": "Time", "handlerKey": "__ignore"},
                        {"fieldName": "Value", "handlerKey": "__ignore"},
                    ],
                },
            }
        ],
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "decimals": 2,
                "color": {"mode": "fixed", "fixedColor": "text"},
                "mappings": [],
                "thresholds": {"mode": "absolute", "steps": [{"color": "text", "value": None}]},
            },
            "overrides": [
                {
                    "matcher": {"id": "byName", "options": "target"},
                    "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": "text"}}],
                }
            ],
        },
        "options": {
            "colorMode": "background",
            "graphMode": "none",
            "justifyMode": "auto",
            "orientation": "vertical",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "showPercentChange": False,
            "textMode": "value_and_name",
            "wideLayout": True,
        },
    }
    return layout.place(panel, 0, 6, 7)


def kpi_timeseries(template, kpi, layout):
    unit = grafana_unit(kpi["unit"])
    dashed = {"id": "custom.lineStyle", "value": {"dash": [10, 10], "fill": "dash"}}
    panel = {
        "type": "timeseries",
        "title": f'{kpi["title"]}: value vs target',
        "description": f'{kpi["title"]} over the rolling $window window, as kpid recorded it every KPI round, '
        "against its target and warning threshold.",
        "datasource": DATASOURCE,
        "targets": [
            target(selector("kpid_kpi_value", template, kpi["id"]), "A", "value"),
            target(selector("kpid_kpi_target", template, kpi["id"]), "B", "target"),
            target(selector("kpid_kpi_warning", template, kpi["id"]), "C", "warning"),
        ],
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "color": {"mode": "palette-classic"},
                "custom": {
                    "drawStyle": "line",
                    "lineInterpolation": "stepAfter",
                    "lineWidth": 2,
                    "fillOpacity": 0,
                    "showPoints": "never",
                    "spanNulls": False,
                    "axisPlacement": "auto",
                },
                "mappings": [],
                "thresholds": {"mode": "absolute", "steps": [{"color": "green", "value": None}]},
            },
            "overrides": [
                {
                    "matcher": {"id": "byName", "options": "value"},
                    "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": "blue"}}],
                },
                {
                    "matcher": {"id": "byName", "options": "target"},
                    "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": "green"}}, dashed],
                },
                {
                    "matcher": {"id": "byName", "options": "warning"},
                    "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": "orange"}}, dashed],
                },
            ],
        },
        "options": {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True, "calcs": []},
            "tooltip": {"mode": "multi", "sort": "none"},
        },
    }
    return layout.place(panel, 6, 18, 7)


def template_dashboard(path):
    with open(path, encoding="utf-8") as f:
        t = yaml.safe_load(f)
    name = t["template"]
    layout = Layout()
    panels = [row("Status", layout), status_table(name, t["kpis"], layout)]
    panels.append(row("KPIs", layout))
    for kpi in t["kpis"]:
        panels.append(kpi_stat(name, kpi, layout))
        panels.append(kpi_timeseries(name, kpi, layout))
        layout.advance(7)
    variables = [
        datasource_variable(),
        query_variable("site", "Site", f'label_values(kpid_kpi_value{{template="{name}"}}, site)'),
        window_variable(),
    ]
    description = (
        f'{t["title"]} KPIs of one site over a rolling window, from the series kpid records each KPI round '
        f'(generated from Queries/templates/{name}.yaml by scripts/make-dashboards.py). {t["description"]}'
    )
    return name, dashboard(
        f"kpid-{name}", f'kpid / {t["title"]}', description, ["kpid", "kpi", name], variables, panels
    )


def health_panel(kind, title, description, targets, unit, layout, x, w, h=8, extra=None):
    panel = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": targets,
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "color": {"mode": "palette-classic"} if kind == "timeseries" else {"mode": "thresholds"},
                "custom": {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never"}
                if kind == "timeseries"
                else {},
                "mappings": [],
                "thresholds": {"mode": "absolute", "steps": [{"color": "green", "value": None}]},
            },
            "overrides": [],
        },
        "options": {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True, "calcs": []},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
        if kind == "timeseries"
        else {
            "colorMode": "value",
            "graphMode": "area",
            "justifyMode": "auto",
            "orientation": "auto",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "textMode": "auto",
            "wideLayout": True,
        },
    }
    if extra:
        extra(panel)
    return layout.place(panel, x, w, h)


def health_dashboard():
    layout = Layout()
    sel = 'instance=~"$instance"'
    ri = "$__rate_interval"

    def q(expr, ref, legend):
        return target(expr, ref, legend)

    def quantiles(metric, by=""):
        group = f"le{', ' + by if by else ''}"
        return [
            q(f"histogram_quantile(0.5, sum by ({group}) (rate({metric}_bucket{{{sel}}}[{ri}])))", "A", "p50" + (f" {{{{{by}}}}}" if by else "")),
            q(f"histogram_quantile(0.99, sum by ({group}) (rate({metric}_bucket{{{sel}}}[{ri}])))", "B", "p99" + (f" {{{{{by}}}}}" if by else "")),
        ]

    def ready_mappings(panel):
        panel["fieldConfig"]["defaults"]["mappings"] = [
            {"type": "value", "options": {"0": {"color": "red", "index": 0, "text": "starting"}, "1": {"color": "green", "index": 1, "text": "ready"}}}
        ]

    def failures_red(panel):
        panel["fieldConfig"]["overrides"] = [
            {
                "matcher": {"id": "byName", "options": "error"},
                "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}}],
            }
        ]

    panels = [row("Overview", layout)]
    panels.append(health_panel("stat", "Ready", "1 once the store is loaded and ingest is open (kpid_ready).",
                               [q(f"kpid_ready{{{sel}}}", "A", "{{instance}}")], "none", layout, 0, 4, 4, ready_mappings))
    panels.append(health_panel("stat", "Uptime", "Time since the kpid process started.",
                               [q(f"time() - kpid_start_time_seconds{{{sel}}}", "A", "{{instance}}")], "s", layout, 4, 4, 4))
    panels.append(health_panel("stat", "Series", "Series in the store (kpid_series).",
                               [q(f"kpid_series{{{sel}}}", "A", "{{instance}}")], "short", layout, 8, 4, 4))
    panels.append(health_panel("stat", "Resident memory", "Resident set size of the kpid process.",
                               [q(f"process_resident_memory_bytes{{{sel}}}", "A", "{{instance}}")], "bytes", layout, 12, 4, 4))
    panels.append(health_panel("stat", "SQLite file", "Size of the SQLite database and its WAL file.",
                               [q(f"kpid_sqlite_file_bytes{{{sel}}}", "A", "{{instance}}")], "bytes", layout, 16, 4, 4))
    panels.append(health_panel("stat", "Last KPI round", "Seconds since the last rolling KPI evaluation round.",
                               [q(f"time() - kpid_kpi_last_evaluation_timestamp_seconds{{{sel}}}", "A", "{{instance}}")], "s", layout, 20, 4, 4))
    layout.advance(4)

    panels.append(row("Ingest", layout))
    panels.append(health_panel("timeseries", "Samples ingested per second", "Samples acknowledged (committed to SQLite), by ingest format.",
                               [q(f"sum by (format) (rate(kpid_samples_ingested_total{{{sel}}}[{ri}]))", "A", "{{format}}")], "short", layout, 0, 12))
    panels.append(health_panel("timeseries", "Samples rejected per second", "Samples in refused ingest requests, by reason; and refused requests.",
                               [q(f"sum by (reason) (rate(kpid_samples_rejected_total{{{sel}}}[{ri}]))", "A", "samples {{reason}}"),
                                q(f"sum by (reason) (rate(kpid_ingest_requests_rejected_total{{{sel}}}[{ri}]))", "B", "requests {{reason}}")],
                               "short", layout, 12, 12))
    layout.advance(8)

    panels.append(row("HTTP", layout))
    panels.append(health_panel("timeseries", "Requests per second", "HTTP requests answered, by route and status code.",
                               [q(f"sum by (route, code) (rate(kpid_http_requests_total{{{sel}}}[{ri}]))", "A", "{{route}} {{code}}")], "reqps", layout, 0, 12))
    panels.append(health_panel("timeseries", "Request latency", "HTTP request latency by route: median and 99th percentile.",
                               quantiles("kpid_http_request_duration_seconds", "route"), "s", layout, 12, 12))
    layout.advance(8)

    panels.append(row("Storage", layout))
    panels.append(health_panel("timeseries", "SQLite commit time", "Duration of group commits (one SQLite transaction each): median and 99th percentile.",
                               quantiles("kpid_sqlite_commit_duration_seconds"), "s", layout, 0, 8))
    panels.append(health_panel("timeseries", "Checkpoint time", "Duration of checkpoints (chunks and heads written): median and 99th percentile.",
                               quantiles("kpid_sqlite_checkpoint_duration_seconds"), "s", layout, 8, 8))
    panels.append(health_panel("timeseries", "Writer failures", "Failed SQLite commits and checkpoints per second.",
                               [q(f"sum by (operation) (rate(kpid_writer_failures_total{{{sel}}}[{ri}]))", "A", "{{operation}}")], "short", layout, 16, 8))
    layout.advance(8)
    panels.append(health_panel("timeseries", "Series and samples in memory", "Series in the store and samples held in memory.",
                               [q(f"kpid_series{{{sel}}}", "A", "series"), q(f"kpid_samples_in_memory{{{sel}}}", "B", "samples in memory")],
                               "short", layout, 0, 12))
    panels.append(health_panel("timeseries", "Memory", "Resident memory of the process and bytes of the store's sample columns.",
                               [q(f"process_resident_memory_bytes{{{sel}}}", "A", "resident"),
                                q(f"sum(kpid_memory_bytes{{{sel}}})", "B", "store columns")], "bytes", layout, 12, 12))
    layout.advance(8)

    panels.append(row("KPI evaluation", layout))
    panels.append(health_panel("timeseries", "KPI round duration", "Duration of whole rolling KPI evaluation rounds: median and 99th percentile.",
                               quantiles("kpid_kpi_evaluation_duration_seconds"), "s", layout, 0, 12))
    panels.append(health_panel("timeseries", "KPI evaluations per second", "Evaluations of one template at one site, by result (error: a KPI query failed).",
                               [q(f"sum by (result) (rate(kpid_kpi_evaluations_total{{{sel}}}[{ri}]))", "A", "{{result}}")], "short", layout, 12, 12,
                               extra=failures_red))
    layout.advance(8)
    panels.append(health_panel("timeseries", "Time since the last successful evaluation",
                               "Per site and template: seconds since its KPIs were last evaluated without error "
                               "(grows when a site's evaluation keeps failing; see the kpid log).",
                               [q(f"time() - max by (site, template) (kpid_kpi_last_success_timestamp_seconds{{{sel},site=~\"$site\"}})",
                                  "A", "{{site}} {{template}}")], "s", layout, 0, 24))
    layout.advance(8)

    variables = [
        datasource_variable(),
        query_variable("instance", "Instance", "label_values(kpid_build_info, instance)", include_all=True),
        query_variable("site", "Site", "label_values(kpid_kpi_last_success_timestamp_seconds, site)", include_all=True),
    ]
    description = (
        "kpid's own health from its /metrics: ingest, rejections, HTTP latency, SQLite commits, series, memory and "
        "KPI evaluation. Needs a Prometheus that scrapes kpid (see Dashboards/README.md); generated by "
        "scripts/make-dashboards.py."
    )
    return dashboard("kpid-health", "kpid / Health", description, ["kpid", "health"], variables, panels,
                     time_from="now-6h", refresh="30s")


def render(d):
    return json.dumps(d, indent=2, ensure_ascii=False) + "\n"


def main():
    check = "--check" in sys.argv[1:]
    outputs = {}
    for file in sorted(os.listdir(TEMPLATES)):
        if file.endswith((".yaml", ".yml")):
            name, d = template_dashboard(os.path.join(TEMPLATES, file))
            outputs[f"{name}.json"] = render(d)
    outputs["kpid-health.json"] = render(health_dashboard())
    uids = [json.loads(text)["uid"] for text in outputs.values()]
    assert len(set(uids)) == len(uids), "dashboard uids must be unique"
    stale = []
    for file, text in outputs.items():
        path = os.path.join(OUT, file)
        old = open(path, encoding="utf-8").read() if os.path.exists(path) else None
        if old != text:
            stale.append(file)
            if not check:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text)
    if check:
        if stale:
            print("out of date (run python3 scripts/make-dashboards.py): " + ", ".join(stale))
            return 1
        print(f"{len(outputs)} dashboards up to date")
        return 0
    print(f"wrote {len(stale)} of {len(outputs)} dashboards into Dashboards/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
