"""One self-contained HTML page from the JSON reports (statistics, constraints, violations).

Pure: dicts in, a string out. The page fetches nothing: CSS is inline, charts are SVG written
here (no script), so it opens offline and stays small (a few KB per feature). Every text taken
from the files is escaped. Lenient with SageMaker's 2021 and 2024 shapes: a missing field is
shown as "-", never an error.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any

TOP_CATEGORIES = 12
CHART_W, CHART_H = 560, 180
PAD_L, PAD_R, PAD_T, PAD_B = 48, 12, 14, 40


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def fmt(value: Any) -> str:
    """A number for people: whole numbers with separators, others to 4 significant digits.

    >>> fmt(1234567.0), fmt(0.000123456), fmt(None), fmt(float("inf"))
    ('1,234,567', '0.0001235', '-', 'inf')
    """
    number = _num(value)
    if number is None:
        return "-"
    if math.isnan(number) or math.isinf(number):
        return str(number)
    if number == int(number) and abs(number) < 1e15:
        return f"{int(number):,}"
    return f"{number:.4g}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


@dataclass
class Feature:
    name: str
    inferred_type: str = "-"
    present: float | None = None
    missing: float | None = None
    completeness: float | None = None
    summary: dict[str, float | None] = field(default_factory=dict)
    buckets: list[tuple[float, float, float]] = field(default_factory=list)  # KLL: (lower, upper, count)
    categories: list[tuple[str, float]] = field(default_factory=list)  # categorical: (value, count)
    distinct: float | None = None

    @property
    def numeric(self) -> bool:
        return bool(self.buckets) or (not self.categories and self.inferred_type in ("Integral", "Fractional"))


def read_feature(doc: dict) -> Feature:
    """One entry of ``features`` in statistics.json, whatever its vintage."""
    feature = Feature(name=str(doc.get("name", "?")), inferred_type=str(doc.get("inferred_type", "-")))
    stats = _dict(doc.get("numerical_statistics")) or _dict(doc.get("string_statistics"))
    common = _dict(stats.get("common"))
    feature.present, feature.missing = _num(common.get("num_present")), _num(common.get("num_missing"))
    completeness = _num(common.get("completeness", stats.get("completeness", doc.get("completeness"))))
    if completeness is None and feature.present is not None and feature.missing is not None and feature.present + feature.missing > 0:
        completeness = feature.present / (feature.present + feature.missing)
    feature.completeness = completeness
    feature.distinct = _num(stats.get("distinct_count"))
    for key in ("mean", "std_dev", "min", "max", "sum"):
        if key in stats:
            feature.summary[key] = _num(stats.get(key))
    distribution = _dict(stats.get("distribution"))
    for bucket in _list(_dict(distribution.get("kll")).get("buckets")):
        bucket = _dict(bucket)
        lower, upper, count = (_num(bucket.get(k)) for k in ("lower_bound", "upper_bound", "count"))
        if lower is not None and upper is not None and count is not None and math.isfinite(lower) and math.isfinite(upper):
            feature.buckets.append((lower, upper, max(count, 0.0)))
    for bucket in _list(_dict(distribution.get("categorical")).get("buckets")):
        bucket = _dict(bucket)
        count = _num(bucket.get("count"))
        if count is not None:
            feature.categories.append((str(bucket.get("value", "")), max(count, 0.0)))
    return feature


def read_features(statistics: dict | None) -> dict[str, Feature]:
    return {f.name: f for f in (read_feature(d) for d in _list(_dict(statistics).get("features")) if isinstance(d, dict))}


def _constraint_features(constraints: dict | None) -> dict[str, dict]:
    return {str(d.get("name")): d for d in map(_dict, _list(_dict(constraints).get("features"))) if "name" in d}


# ---------------------------------------------------------------- charts (inline SVG, no script)

def _svg_open(label: str, height: int = CHART_H) -> str:
    # Inline <svg> in HTML needs no xmlns: the page then holds no network address at all.
    return (f'<svg class="chart" role="img" aria-label="{_e(label)}" viewBox="0 0 {CHART_W} {height}" '
            f'preserveAspectRatio="xMinYMin meet"><title>{_e(label)}</title>')


def _empty_chart(label: str, why: str) -> str:
    return (_svg_open(label, 60)
            + f'<text x="{CHART_W / 2}" y="34" text-anchor="middle" class="muted">{_e(why)}</text></svg>')


def _axes(x_lo: str, x_hi: str, y_hi: str, y_label: str, height: int = CHART_H) -> str:
    bottom = height - PAD_B
    return (f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{bottom}" class="axis"/>'
            f'<line x1="{PAD_L}" y1="{bottom}" x2="{CHART_W - PAD_R}" y2="{bottom}" class="axis"/>'
            f'<text x="{PAD_L - 4}" y="{PAD_T + 4}" text-anchor="end" class="tick">{_e(y_hi)}</text>'
            f'<text x="{PAD_L - 4}" y="{bottom}" text-anchor="end" class="tick">0</text>'
            f'<text x="{PAD_L}" y="{bottom + 14}" class="tick">{_e(x_lo)}</text>'
            f'<text x="{CHART_W - PAD_R}" y="{bottom + 14}" text-anchor="end" class="tick">{_e(x_hi)}</text>'
            f'<text x="{(PAD_L + CHART_W - PAD_R) / 2}" y="{bottom + 14}" text-anchor="middle" class="tick muted">{_e(y_label)}</text>')


def histogram_svg(name: str, buckets: list[tuple[float, float, float]]) -> str:
    """The ten KLL buckets as bars, each with its count above it."""
    label = f"Distribution of {name}"
    if not buckets:
        return _empty_chart(label, "no distribution recorded")
    peak = max(c for _, _, c in buckets) or 1.0
    width = (CHART_W - PAD_L - PAD_R) / len(buckets)
    height = CHART_H - PAD_T - PAD_B
    parts = [_svg_open(label)]
    for i, (lower, upper, count) in enumerate(buckets):
        h = height * count / peak
        x, y = PAD_L + i * width, PAD_T + height - h
        parts.append(f'<rect class="bar" x="{x + 1:.1f}" y="{y:.1f}" width="{max(width - 2, 1):.1f}" height="{h:.1f}">'
                     f'<title>{_e(fmt(lower))} to {_e(fmt(upper))}: {_e(fmt(count))}</title></rect>')
        if count:
            parts.append(f'<text x="{x + width / 2:.1f}" y="{y - 2:.1f}" text-anchor="middle" class="tick">{_e(fmt(count))}</text>')
    parts.append(_axes(fmt(buckets[0][0]), fmt(buckets[-1][1]), fmt(peak), "value (count per bucket)"))
    parts.append("</svg>")
    return "".join(parts)


def _cdf_points(buckets: list[tuple[float, float, float]]) -> list[tuple[float, float]]:
    total = sum(c for _, _, c in buckets)
    if total <= 0:
        return []
    points, running = [(buckets[0][0], 0.0)], 0.0
    for _, upper, count in buckets:
        running += count
        points.append((upper, running / total))
    return points


def _cdf_at(points: list[tuple[float, float]], x: float) -> float:
    """The CDF at ``x``, linear inside a bucket (mass spread evenly across it)."""
    if x < points[0][0]:
        return 0.0
    if x >= points[-1][0]:
        return 1.0
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return 1.0


def largest_gap(baseline: list[tuple[float, float, float]], current: list[tuple[float, float, float]]) -> tuple[float, float] | None:
    """(x, gap) where the two bucket CDFs differ most; both are piecewise linear, so the largest
    difference is at one of their bucket edges.

    >>> largest_gap([(0, 1, 1), (1, 2, 1)], [(0, 1, 2), (1, 2, 0)])
    (1, 0.5)
    """
    b, c = _cdf_points(baseline), _cdf_points(current)
    if not b or not c:
        return None
    best = None
    for x in sorted({x for x, _ in b} | {x for x, _ in c}):
        gap = abs(_cdf_at(b, x) - _cdf_at(c, x))
        if best is None or gap > best[1]:
            best = (x, gap)
    return best


def cdf_svg(name: str, baseline: list[tuple[float, float, float]], current: list[tuple[float, float, float]]) -> str:
    """Baseline (solid) and current (dashed) CDFs on one axis, the largest gap marked."""
    label = f"Baseline and current distribution of {name}"
    b, c = _cdf_points(baseline), _cdf_points(current)
    if not b and not c:
        return _empty_chart(label, "no distribution recorded")
    xs = [x for x, _ in b + c]
    lo, hi = min(xs), max(xs)
    span = (hi - lo) or 1.0
    height = CHART_H - PAD_T - PAD_B
    sx = lambda x: PAD_L + (CHART_W - PAD_L - PAD_R) * (x - lo) / span  # noqa: E731
    sy = lambda y: PAD_T + height * (1 - y)  # noqa: E731
    parts = [_svg_open(label), _axes(fmt(lo), fmt(hi), "1", "value (cumulative share)")]
    for points, css in ((b, "baseline"), (c, "current")):
        if points:
            path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in [(lo, 0.0), *points, (hi, 1.0)])
            parts.append(f'<polyline class="line {css}" points="{path}"/>')
    gap = largest_gap(baseline, current)
    if gap is not None and gap[1] > 0:
        x, size = gap
        y_b, y_c = _cdf_at(b, x), _cdf_at(c, x)
        parts.append(f'<line class="gap" x1="{sx(x):.1f}" y1="{sy(y_b):.1f}" x2="{sx(x):.1f}" y2="{sy(y_c):.1f}"/>'
                     f'<text class="tick" x="{min(sx(x) + 4, CHART_W - 150):.1f}" y="{PAD_T + 10}">'
                     f'largest gap {_e(_pct(size))} at {_e(fmt(x))}</text>')
    legend_y = CHART_H - 8
    parts.append(f'<line class="line baseline" x1="{PAD_L}" y1="{legend_y - 4}" x2="{PAD_L + 24}" y2="{legend_y - 4}"/>'
                 f'<text class="tick" x="{PAD_L + 28}" y="{legend_y}">baseline (solid)</text>'
                 f'<line class="line current" x1="{PAD_L + 150}" y1="{legend_y - 4}" x2="{PAD_L + 174}" y2="{legend_y - 4}"/>'
                 f'<text class="tick" x="{PAD_L + 178}" y="{legend_y}">current (dashed)</text>')
    parts.append("</svg>")
    return "".join(parts)


def _shares(categories: list[tuple[str, float]]) -> dict[str, float]:
    total = sum(c for _, c in categories)
    return {v: c / total for v, c in categories} if total > 0 else {}


def categories_svg(name: str, current: list[tuple[str, float]], baseline: list[tuple[str, float]] | None = None) -> str:
    """Horizontal bars of the top categories (share of the feature's values); with a baseline,
    baseline and current side by side and categories the baseline never saw labelled "new"."""
    label = f"Categories of {name}" if baseline is None else f"Baseline and current categories of {name}"
    cur, base = _shares(current), _shares(baseline or [])
    if not cur and not base:
        return _empty_chart(label, "no categories recorded")
    ranked = sorted(set(cur) | set(base), key=lambda v: (-max(cur.get(v, 0.0), base.get(v, 0.0)), v))
    shown, hidden = ranked[:TOP_CATEGORIES], len(ranked) - TOP_CATEGORIES
    paired = baseline is not None
    row = 30 if paired else 18
    label_w, right = 170, 60
    height = PAD_T + row * len(shown) + (34 if paired else 14) + (14 if hidden > 0 else 0)
    bar_w = CHART_W - label_w - right
    peak = max([*cur.values(), *base.values(), 1e-9])
    parts = [_svg_open(label, height)]
    for i, value in enumerate(shown):
        y = PAD_T + i * row
        new = paired and value not in base
        text = value if len(value) <= 24 else value[:23] + "\u2026"
        parts.append(f'<text class="tick{" new" if new else ""}" x="{label_w - 6}" y="{y + 12}" text-anchor="end">'
                     f'{_e(text)}{" (new)" if new else ""}<title>{_e(value)}</title></text>')
        series = [("baseline", base.get(value, 0.0)), ("current", cur.get(value, 0.0))] if paired else [("bar", cur.get(value, 0.0))]
        for j, (css, share) in enumerate(series):
            w = bar_w * share / peak
            by = y + j * 13
            parts.append(f'<rect class="{css}{" new" if new and css == "current" else ""}" x="{label_w}" y="{by + 2}" '
                         f'width="{max(w, 0.5):.1f}" height="11"/>'
                         f'<text class="tick" x="{label_w + w + 4:.1f}" y="{by + 11}">'
                         f'{"B " if paired and css == "baseline" else "C " if paired else ""}{_e(_pct(share))}</text>')
    foot = PAD_T + row * len(shown) + 12
    if hidden > 0:
        parts.append(f'<text class="tick muted" x="{label_w}" y="{foot}">and {hidden} more categories</text>')
        foot += 14
    if paired:
        parts.append(f'<rect class="baseline" x="{label_w}" y="{foot}" width="14" height="10"/>'
                     f'<text class="tick" x="{label_w + 18}" y="{foot + 9}">B = baseline</text>'
                     f'<rect class="current" x="{label_w + 110}" y="{foot}" width="14" height="10"/>'
                     f'<text class="tick" x="{label_w + 128}" y="{foot + 9}">C = current</text>')
    parts.append("</svg>")
    return "".join(parts)


# ---------------------------------------------------------------- page

_CSS = """
:root{--fg:#1b1f24;--muted:#5b6470;--line:#d0d7de;--base:#8c959f;--cur:#0969da;--bad:#b3261e;--new:#9a6700}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);margin:0 auto;max-width:980px;padding:16px}
h1{font-size:22px;margin:0 0 8px}h2{font-size:18px;margin:24px 0 8px;border-bottom:1px solid var(--line)}
h3{font-size:16px;margin:0 0 6px;word-break:break-word}
table{border-collapse:collapse;width:100%;margin:6px 0 10px}
table.summary,table.dataset{width:auto;min-width:50%}
table.violations td:nth-child(-n+2){min-width:7em}
th,td{text-align:left;padding:3px 8px;border-bottom:1px solid var(--line);vertical-align:top;overflow-wrap:break-word}
th{font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.scroll{overflow-x:auto}
.verdict{padding:10px 12px;border:2px solid var(--fg);border-radius:6px;font-weight:600}
.verdict.bad{border-color:var(--bad)}
.feature{border:1px solid var(--line);border-radius:6px;padding:10px 12px;margin:12px 0;break-inside:avoid;page-break-inside:avoid}
.feature.flagged{border-left:6px solid var(--bad)}
.tag{display:inline-block;border:1px solid currentColor;border-radius:4px;padding:0 5px;font-size:12px;margin-left:6px}
.tag.bad{color:var(--bad)}
.muted{color:var(--muted);fill:var(--muted)}
svg.chart{width:100%;height:auto;max-width:640px;display:block}
svg .axis{stroke:var(--fg);stroke-width:1}
svg .tick{font-size:11px;fill:var(--fg)}
svg .tick.new{font-weight:700;fill:var(--new)}
svg .bar,svg rect.current{fill:var(--cur)}
svg rect.baseline{fill:var(--base)}
svg rect.current.new{fill:var(--new)}
svg .line{fill:none;stroke-width:2}
svg .line.baseline{stroke:var(--base)}
svg .line.current{stroke:var(--cur);stroke-dasharray:6 4}
svg .gap{stroke:var(--bad);stroke-width:2}
a{color:var(--cur)}
@media (max-width:600px){body{padding:8px}th,td{padding:2px 4px}}
@media print{body{max-width:none;padding:0}a{color:inherit;text-decoration:none}.feature{border-color:#999}
svg .bar,svg rect.current{fill:#444}svg rect.baseline{fill:#bbb}svg .line.current{stroke:#000}svg .line.baseline{stroke:#777}}
"""


def _summary_rows(feature: Feature | None, baseline: Feature | None, paired: bool) -> str:
    keys = ("mean", "std_dev", "min", "max", "sum")
    labels = {"mean": "mean", "std_dev": "std dev", "min": "min", "max": "max", "sum": "sum"}
    rows = []
    current = feature or Feature(name="")
    base = baseline or Feature(name="")

    def row(label: str, cur: str, old: str) -> None:
        rows.append(f"<tr><th>{_e(label)}</th>{f'<td class=n>{_e(old)}</td>' if paired else ''}<td class=n>{_e(cur)}</td></tr>")

    row("type", current.inferred_type, base.inferred_type)
    row("completeness", _pct(current.completeness), _pct(base.completeness))
    row("present", fmt(current.present), fmt(base.present))
    row("missing", fmt(current.missing), fmt(base.missing))
    if current.distinct is not None or base.distinct is not None:
        row("distinct (approx.)", fmt(current.distinct), fmt(base.distinct))
    for key in keys:
        if key in current.summary or key in base.summary:
            row(labels[key], fmt(current.summary.get(key)), fmt(base.summary.get(key)))
    head = "<tr><th></th><th>baseline</th><th>current</th></tr>" if paired else ""
    return f'<div class="scroll"><table class="summary">{head}{"".join(rows)}</table></div>'


def _feature_section(anchor: str, name: str, current: Feature | None, baseline: Feature | None,
                     violations: list[dict], paired: bool) -> str:
    flagged = bool(violations)
    tags = "".join(f'<span class="tag bad">{_e(v.get("constraint_check_type", "violation"))}</span>' for v in violations)
    if current is None:
        chart = _empty_chart(f"Distribution of {name}", "not in the current statistics")
    elif paired and baseline is not None and (current.categories or baseline.categories) and not (current.buckets and baseline.buckets):
        chart = categories_svg(name, current.categories, baseline.categories)
    elif paired and baseline is not None and (current.buckets or baseline.buckets):
        chart = cdf_svg(name, baseline.buckets, current.buckets)
    elif current.categories:
        chart = categories_svg(name, current.categories)
    else:
        chart = histogram_svg(name, current.buckets)
    listed = "".join(f"<li><strong>{_e(v.get('constraint_check_type', ''))}</strong>: {_e(v.get('description', ''))}</li>"
                     for v in violations)
    marker = ' <span class="tag bad">violation</span>' if flagged else ""
    return (f'<section class="feature{" flagged" if flagged else ""}" id="{anchor}" data-feature="{_e(name)}">'
            f"<h3>{_e(name)}{marker}{tags}</h3>"
            f"{f'<ul class=violations>{listed}</ul>' if listed else ''}"
            f"{_summary_rows(current, baseline, paired)}{chart}</section>")


def _dataset_summary(statistics: dict, features: dict[str, Feature], label: str) -> str:
    rows = _num(_dict(statistics.get("dataset")).get("item_count"))
    types: dict[str, int] = {}
    for f in features.values():
        types[f.inferred_type] = types.get(f.inferred_type, 0) + 1
    known = [f.completeness for f in features.values() if f.completeness is not None]
    complete = sum(known) / len(known) if known else None
    type_text = ", ".join(f"{_e(t)}: {n}" for t, n in sorted(types.items())) or "-"
    return (f'<table class="dataset"><tr><th>{_e(label)} rows</th><td class=n>{_e(fmt(rows))}</td></tr>'
            f"<tr><th>columns</th><td class=n>{len(features)}</td></tr>"
            f"<tr><th>types</th><td>{type_text}</td></tr>"
            f"<tr><th>mean completeness</th><td class=n>{_e(_pct(complete))}</td></tr></table>")


def render_html(statistics: dict, constraints: dict | None = None, baseline_statistics: dict | None = None,
                violations: dict | None = None, message: str | None = None, title: str = "Model Monitor report") -> str:
    """The page: a baselining report, or (``violations`` or ``baseline_statistics`` given) a
    monitoring report comparing the current statistics with the baseline."""
    statistics = _dict(statistics)
    current = read_features(statistics)
    baseline = read_features(baseline_statistics)
    constrained = _constraint_features(constraints)
    monitoring = violations is not None or baseline_statistics is not None
    violation_list = [_dict(v) for v in _list(_dict(violations).get("violations"))]
    by_feature: dict[str, list[dict]] = {}
    for v in violation_list:
        by_feature.setdefault(str(v.get("feature_name", "")), []).append(v)
    # Baseline facts the statistics lack come from the constraints (type, completeness).
    for name, doc in constrained.items():
        if name not in baseline and monitoring:
            baseline[name] = Feature(name=name, inferred_type=str(doc.get("inferred_type", "-")),
                                     completeness=_num(doc.get("completeness")))

    names = list(current)
    names += [n for n in by_feature if n not in current]
    if monitoring:
        names.sort(key=lambda n: 0 if n in by_feature else 1)  # stable: file order inside each group
    anchors = {n: f"feature-{i}" for i, n in enumerate(names)}

    out = [f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
           f'<meta name="viewport" content="width=device-width, initial-scale=1">'
           f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
           f"<h1>{_e(title)}</h1>"]
    if monitoring:
        if message is None:
            message = ("Completed: Job completed successfully with no violations." if not violation_list else
                       f"CompletedWithViolations: Job completed successfully with {len(violation_list)} violations.")
        out.append(f'<p class="verdict{" bad" if violation_list else ""}" id="verdict">{_e(message)}</p>')
        out.append(f"<h2>Violations ({len(violation_list)})</h2>")
        if violation_list:
            rows = "".join(
                f'<tr class="violation"><td><a href="#{anchors[str(v.get("feature_name", ""))]}">{_e(v.get("feature_name", ""))}</a></td>'
                f"<td>{_e(v.get('constraint_check_type', ''))}</td><td>{_e(v.get('description', ''))}</td></tr>"
                for v in violation_list)
            out.append(f'<div class="scroll"><table class="violations"><tr><th>feature</th><th>check</th>'
                       f"<th>description</th></tr>{rows}</table></div>")
        else:
            out.append("<p>No violations.</p>")
    elif message:
        out.append(f'<p class="verdict" id="verdict">{_e(message)}</p>')
    out.append("<h2>Dataset</h2>")
    out.append(_dataset_summary(statistics, current, "current" if monitoring else "baseline"))
    if monitoring and baseline_statistics is not None:
        out.append(_dataset_summary(_dict(baseline_statistics), read_features(baseline_statistics), "baseline"))
    if not monitoring and names:
        rows = "".join(f'<tr><td><a href="#{anchors[n]}">{_e(n)}</a></td><td>{_e(current[n].inferred_type)}</td>'
                       f"<td class=n>{_e(_pct(current[n].completeness))}</td><td class=n>{_e(fmt(current[n].missing))}</td></tr>"
                       for n in names)
        out.append(f'<div class="scroll"><table class="columns"><tr><th>feature</th><th>type</th><th>completeness</th>'
                   f"<th>missing</th></tr>{rows}</table></div>")
    out.append(f"<h2>Features ({len(names)})</h2>")
    if monitoring:
        out.append('<p class="muted">Features with violations first. Numeric charts show the cumulative share of values '
                   "(baseline solid, current dashed); categorical charts show each category's share (B baseline, C current).</p>")
    for name in names:
        out.append(_feature_section(anchors[name], name, current.get(name), baseline.get(name) if monitoring else None,
                                    by_feature.get(name, []), monitoring))
    out.append("</body></html>\n")
    return "".join(out)
