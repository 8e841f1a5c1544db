"""One self-contained HTML page from the JSON reports (statistics, constraints, violations), for
data quality (:func:`render_html`) or model quality (:func:`render_model_quality_html`).

Pure: dicts in, a string out. The page fetches nothing: CSS is inline, charts are SVG written
here (no script), so it opens offline and stays small (a few KB per feature). Every text taken
from the files is escaped. Lenient with SageMaker's 2021 and 2024 shapes: a missing field is
shown as "-", never an error.
"""
from __future__ import annotations

import bisect
import html
import math
import re
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
    if isinstance(value, (int, float, str)):
        try:
            return float(value)
        except (ValueError, OverflowError):  # not a number, or an integer beyond a double
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

def _svg_open(label: str, height: int = CHART_H, width: int = CHART_W, css: str = "chart") -> str:
    # Inline <svg> in HTML needs no xmlns: the page then holds no network address at all.
    return (f'<svg class="{css}" role="img" aria-label="{_e(label)}" viewBox="0 0 {width} {height}" '
            f'preserveAspectRatio="xMinYMin meet"><title>{_e(label)}</title>')


def _empty_chart(label: str, why: str) -> str:
    return (_svg_open(label, 60)
            + f'<text x="{CHART_W / 2}" y="34" text-anchor="middle" class="muted">{_e(why)}</text></svg>')


def _axes(x_lo: str, x_hi: str, y_hi: str, x_title: str, height: int = CHART_H, width: int = CHART_W,
          y_title: str | None = None, bottom: int | None = None) -> str:
    """Both axes with their end ticks, the x title between the x ticks and, if given, the y title
    written upwards; ``bottom`` is the x axis's y (default: ``PAD_B`` above the foot)."""
    bottom = height - PAD_B if bottom is None else bottom
    parts = (f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{bottom}" class="axis"/>'
             f'<line x1="{PAD_L}" y1="{bottom}" x2="{width - PAD_R}" y2="{bottom}" class="axis"/>'
             f'<text x="{PAD_L - 4}" y="{PAD_T + 4}" text-anchor="end" class="tick">{_e(y_hi)}</text>'
             f'<text x="{PAD_L - 4}" y="{bottom}" text-anchor="end" class="tick">0</text>'
             f'<text x="{PAD_L}" y="{bottom + 14}" class="tick">{_e(x_lo)}</text>'
             f'<text x="{width - PAD_R}" y="{bottom + 14}" text-anchor="end" class="tick">{_e(x_hi)}</text>'
             f'<text x="{(PAD_L + width - PAD_R) / 2}" y="{bottom + 14}" text-anchor="middle" class="tick muted">{_e(x_title)}</text>')
    if y_title:
        middle = (PAD_T + bottom) / 2
        parts += (f'<text x="14" y="{middle}" transform="rotate(-90 14 {middle})" text-anchor="middle" '
                  f'class="tick muted">{_e(y_title)}</text>')
    return parts


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


def _cdf_at(points: list[tuple[float, float]], x: float, edges: list[float] | None = None) -> float:
    """The CDF at ``x``, linear inside a bucket (mass spread evenly across it). ``edges``, the
    points' x in ascending order, finds the bucket by bisection (else the first that holds x)."""
    if x < points[0][0]:
        return 0.0
    if x >= points[-1][0]:
        return 1.0
    if edges is not None:
        i = max(bisect.bisect_left(edges, x), 1)
        (x0, y0), (x1, y1) = points[i - 1], points[i]
        return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return 1.0


def _ascending(edges: list[float]) -> list[float] | None:
    """``edges`` when they ascend (buckets in order, as every writer writes them), else None."""
    return edges if all(a <= b for a, b in zip(edges, edges[1:])) else None


def largest_gap(baseline: list[tuple[float, float, float]], current: list[tuple[float, float, float]]) -> tuple[float, float] | None:
    """(x, gap) where the two bucket CDFs differ most; both are piecewise linear, so the largest
    difference is at one of their bucket edges.

    >>> largest_gap([(0, 1, 1), (1, 2, 1)], [(0, 1, 2), (1, 2, 0)])
    (1, 0.5)
    """
    b, c = _cdf_points(baseline), _cdf_points(current)
    if not b or not c:
        return None
    b_edges, c_edges = _ascending([x for x, _ in b]), _ascending([x for x, _ in c])
    best = None
    for x in sorted({x for x, _ in b} | {x for x, _ in c}):
        gap = abs(_cdf_at(b, x, b_edges) - _cdf_at(c, x, c_edges))
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
.desc{white-space:pre-line}
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
table.metrics tr.flagged>*{background:#fbe9e7}
table.metrics tr.flagged th{box-shadow:inset 6px 0 var(--bad)}
table.metrics,table.matrix{width:auto}
table.matrix td.hit{font-weight:700;background:#eef3f8}
table.matrix td small{display:block;font-weight:400;color:var(--muted)}
.charts{display:flex;flex-wrap:wrap;gap:12px 32px}
figure{margin:0;flex:1 1 280px;max-width:400px}
figcaption{font-weight:600}
svg.square{width:100%;height:auto;display:block}
svg .line.model{stroke:var(--cur)}
svg .chance{stroke:var(--base);stroke-width:1;stroke-dasharray:2 3}
table.metrics td.n{white-space:nowrap}
@media (max-width:600px){body{padding:8px}th,td{padding:2px 4px}
table.violations td{overflow-wrap:anywhere}table.violations td:nth-child(-n+2){min-width:0}}
@media print{body{max-width:none;padding:0}a{color:inherit;text-decoration:none}.feature{border-color:#999}
svg .bar,svg rect.current{fill:#444}svg rect.baseline{fill:#bbb}svg .line.current,svg .line.model{stroke:#000}
svg .line.baseline{stroke:#777}}
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
    listed = "".join(f"<li><strong>{_e(v.get('constraint_check_type', ''))}</strong>: <span class=desc>{_e(v.get('description', ''))}</span></li>"
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


def _page_open(title: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
            f"<h1>{_e(title)}</h1>")


def _completed(violations: int) -> str:
    """The job's exit message, for a page given violations but no message (SageMaker writes
    "violations" even for one)."""
    return ("Completed: Job completed successfully with no violations." if not violations else
            f"CompletedWithViolations: Job completed successfully with {violations} violations.")


def _verdict(message: str, bad: bool) -> str:
    return f'<p class="verdict{" bad" if bad else ""}" id="verdict">{_e(message)}</p>'


def _violations_table(violations: list[dict], subject: str, name_of, anchors: dict[str, str]) -> str:
    """The violations heading and table, each row's first cell linking to the ``anchors`` of its
    ``name_of(violation)``."""
    out = f"<h2>Violations ({len(violations)})</h2>"
    if not violations:
        return out + "<p>No violations.</p>"
    rows = "".join(f'<tr class="violation"><td><a href="#{anchors[name_of(v)]}">{_e(name_of(v))}</a></td>'
                   f"<td>{_e(v.get('constraint_check_type', ''))}</td><td class=desc>{_e(v.get('description', ''))}</td></tr>"
                   for v in violations)
    return (out + f'<div class="scroll"><table class="violations"><tr><th>{_e(subject)}</th><th>check</th>'
            f"<th>description</th></tr>{rows}</table></div>")


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

    out = [_page_open(title)]
    if monitoring:
        out.append(_verdict(_completed(len(violation_list)) if message is None else message, bool(violation_list)))
        out.append(_violations_table(violation_list, "feature", lambda v: str(v.get("feature_name", "")), anchors))
    elif message:
        out.append(_verdict(message, False))
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


# ---------------------------------------------------------------- model quality

MODEL_QUALITY_SECTIONS = {
    "binary_classification_metrics": "BinaryClassification",
    "multiclass_classification_metrics": "MulticlassClassification",
    "regression_metrics": "Regression",
}
MAX_CLASSES = 30
CURVE_W = 300
CURVE_PLOT = CURVE_W - PAD_L - PAD_R  # the curves' plot area is square
_BEST = "_best_constant_classifier"
_CURVES = ("receiver_operating_characteristic_curve", "precision_recall_curve")
_NOT_SCALAR = ("confusion_matrix", *_CURVES)
_SYMBOLS = {"LessThanThreshold": "<", "GreaterThanThreshold": ">"}


def model_quality_section(statistics: Any) -> tuple[str, dict] | None:
    """(problem type, metrics) of a model-quality statistics document; None for data quality.

    >>> model_quality_section({"regression_metrics": {"mae": {"value": 1.5}}})
    ('Regression', {'mae': {'value': 1.5}})
    >>> model_quality_section({"features": []}) is None
    True
    """
    statistics = _dict(statistics)
    if "features" in statistics:
        return None
    for key, problem_type in MODEL_QUALITY_SECTIONS.items():
        if isinstance(statistics.get(key), dict):
            return problem_type, statistics[key]
    return None


def _snake(name: str) -> str:
    """A violation's metric name as the statistics' key (the file writes four rates in camelCase).

    >>> _snake("truePositiveRate"), _snake("f0_5"), _snake("weighted_f1")
    ('true_positive_rate', 'f0_5', 'weighted_f1')
    """
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _metric_text(value: Any) -> str:
    """A metric to six significant digits; non-finite values as the files write them.

    >>> _metric_text(0.93951279), _metric_text("NaN"), _metric_text(float("-inf")), _metric_text(None)
    ('0.939513', 'NaN', '-Infinity', '-')
    """
    number = _num(value)
    if number is None:
        return "-"
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    return f"{number:.6g}"


def _std_text(value: Any) -> str:
    number = _num(value)
    return "-" if number is None or math.isnan(number) else "\u00b1 " + _metric_text(number)


def _past_threshold(value: Any, operator: Any, threshold: Any) -> bool:
    v, t = _num(value), _num(threshold)
    if v is None or t is None:
        return False
    return v < t if operator == "LessThanThreshold" else v > t if operator == "GreaterThanThreshold" else False


def _metric_value(metrics: dict, key: str) -> Any:
    return _dict(metrics.get(key)).get("value")


def _constraint_section(constraints: dict | None, problem_type: str) -> dict:
    """The constraints of this problem type's section, else of any ``*_constraints`` section."""
    constraints = _dict(constraints)
    own = [k.replace("_metrics", "_constraints") for k, known in MODEL_QUALITY_SECTIONS.items() if known == problem_type]
    sections = own + [k for k in constraints if str(k).endswith("_constraints")]
    return next((constraints[k] for k in sections if isinstance(constraints.get(k), dict)), {})


def _metric_keys(metrics: dict, constrained: dict, violated: dict[str, list[dict]]) -> list[str]:
    """The rows of the metrics table in the statistics' order: every scalar metric but the best
    constant classifier's variants (a column of their own), then any metric only the constraints
    or violations name."""
    keys = [str(k) for k, v in metrics.items() if k not in _NOT_SCALAR and isinstance(v, dict)]
    rows = [k for k in keys if not (k.endswith(_BEST) and k[: -len(_BEST)] in metrics)]
    return list(dict.fromkeys(rows + [str(k) for k in constrained] + list(violated)))


def _metrics_table(metrics: dict, constrained: dict, baseline: dict | None, violated: dict[str, list[dict]] | None,
                   anchors: dict[str, str]) -> str:
    keys = list(anchors)
    best = any(f"{k}{_BEST}" in metrics for k in keys)
    head = ["metric", "value", "\u00b1 std dev"]
    head += ["best constant"] if best else []
    head += ["baseline"] if baseline is not None else []
    head += ["threshold"]
    head += ["status"] if violated is not None else []
    rows = []
    for key in keys:
        metric, constraint = _dict(metrics.get(key)), _dict(constrained.get(key))
        operator, threshold = constraint.get("comparison_operator"), constraint.get("threshold")
        cells = [f"<td class=n>{_e(_metric_text(metric.get('value')))}</td>",
                 f"<td class=n>{_e(_std_text(metric.get('standard_deviation')))}</td>"]
        if best:
            cells.append(f"<td class=n>{_e(_metric_text(_metric_value(metrics, f'{key}{_BEST}')))}</td>")
        if baseline is not None:
            cells.append(f"<td class=n>{_e(_metric_text(_metric_value(baseline, key)))}</td>")
        if constraint:
            symbol = _SYMBOLS.get(str(operator), str(operator))
            cells.append(f'<td class=n title="{_e(operator)}">{_e(symbol)} {_e(_metric_text(threshold))}</td>')
        else:
            cells.append("<td class=n>-</td>")
        flagged = violated is not None and key in violated
        if violated is not None:
            if flagged:
                status = '<span class="tag bad">violated</span>'
            elif constraint and _past_threshold(metric.get("value"), operator, threshold):
                status = ('<span class="tag" title="past its threshold, but the violations do not list it '
                          '(SageMaker never flags f0_5)">past threshold, not flagged</span>')
            elif constraint or not constrained:
                status = "ok"
            else:
                status = '<span class="muted">no constraint</span>'
            cells.append(f"<td>{status}</td>")
        rows.append(f'<tr class="metric{" flagged" if flagged else ""}" id="{anchors[key]}" data-metric="{_e(key)}">'
                    f'<th scope="row">{_e(key)}</th>{"".join(cells)}</tr>')
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    notes = ["\u00b1 std dev: the standard deviation the statistics report for the metric (- where they give none or NaN)."]
    if best:
        notes.append("best constant: the metric of a classifier that always predicts the most frequent actual class.")
    if constrained:
        notes.append("threshold: a value below (&lt;) or above (&gt;) it is a violation.")
    return (f'<div class="scroll"><table class="metrics"><tr>{header}</tr>{"".join(rows)}</table></div>'
            f'<p class="muted">{" ".join(notes)}</p>')


def _count(value: Any) -> float:
    number = _num(value)
    return number if number is not None and math.isfinite(number) else 0.0


def confusion_table(matrix: Any, max_classes: int = MAX_CLASSES) -> str:
    """The confusion matrix (actual -> predicted -> count) as a table: actual classes as rows,
    predicted as columns, each cell its count and its share of the actual class. Past
    ``max_classes`` classes the most frequent are shown and the rest summed into "other"."""
    matrix = {str(a): _dict(row) for a, row in _dict(matrix).items() if isinstance(row, dict)}
    labels = list(dict.fromkeys([*matrix, *(str(p) for row in matrix.values() for p in row)]))
    if not labels:
        return '<p class="muted">The statistics hold no confusion matrix.</p>'
    counts = {a: {str(p): _count(c) for p, c in row.items()} for a, row in matrix.items()}
    frequency = {label: sum(counts.get(label, {}).values()) + sum(row.get(label, 0.0) for row in counts.values())
                 for label in labels}
    shown = set(sorted(labels, key=lambda label: -frequency[label])[:max_classes])
    hidden = [label for label in labels if label not in shown]
    groups = [(label, [label]) for label in labels if label in shown]
    if hidden:
        groups.append((f"other ({len(hidden)} classes)", hidden))

    def cell(actual: list[str], predicted: list[str]) -> float:
        return sum(counts.get(a, {}).get(p, 0.0) for a in actual for p in predicted)

    head = "".join(f'<th scope="col">{_e(name)}</th>' for name, _ in groups)
    rows, total = [], 0.0
    for i, (name, actual) in enumerate(groups):
        row_total = sum(cell(actual, predicted) for _, predicted in groups)
        total += row_total
        cells = []
        for j, (_, predicted) in enumerate(groups):
            count = cell(actual, predicted)
            share = _pct(count / row_total) if row_total else "-"
            hit = " hit" if i == j and len(actual) == 1 else ""
            cells.append(f'<td class="n{hit}">{_e(fmt(count))}<small>{_e(share)}</small></td>')
        rows.append(f'<tr><th scope="row">{_e(name)}</th>{"".join(cells)}<td class=n>{_e(fmt(row_total))}</td></tr>')
    column_totals = "".join(f"<td class=n>{_e(fmt(sum(cell(a, p) for _, a in groups)))}</td>" for _, p in groups)
    note = (f'<p class="muted">The {len(shown)} most frequent of {len(labels)} classes are shown; the other '
            f"{len(hidden)} are summed in the last row and column.</p>") if hidden else ""
    return (f'{note}<div class="scroll"><table class="matrix"><tr><th>predicted \u2192<br>actual \u2193</th>{head}<th>total</th></tr>'
            f'{"".join(rows)}<tr><th scope="row">total</th>{column_totals}<td class=n>{_e(fmt(total))}</td></tr></table></div>'
            '<p class="muted">Rows: the actual class; columns: the predicted class. Each cell: the number of records and '
            "their share of the actual class. Bold on the diagonal: correct predictions.</p>")


def _curve(metrics: dict, key: str, x_key: str, y_key: str) -> list[tuple[float, float]]:
    doc = _dict(metrics.get(key))
    points = ((_num(x), _num(y)) for x, y in zip(_list(doc.get(x_key)), _list(doc.get(y_key))))
    return [(x, y) for x, y in points if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)]


def _compact(points: list[tuple[float, float]]) -> str:
    """SVG polyline points rounded to a tenth of a pixel, dropping repeats and the inner points of
    horizontal or vertical runs (a curve of 1,000 bins is mostly steps).

    >>> _compact([(0, 0), (0, 1), (0, 2.01), (0, 3), (1, 3), (1, 3)])
    '0.0,0.0 0.0,3.0 1.0,3.0'
    """
    rounded: list[tuple[float, float]] = []
    for x, y in points:
        point = (round(x, 1), round(y, 1))
        if rounded and rounded[-1] == point:
            continue
        if len(rounded) >= 2 and (rounded[-2][0] == rounded[-1][0] == point[0] or rounded[-2][1] == rounded[-1][1] == point[1]):
            rounded[-1] = point
        else:
            rounded.append(point)
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in rounded)


def curve_svg(label: str, x_title: str, y_title: str, series: list[tuple[str, str, list[tuple[float, float]]]],
              diagonal: bool = False) -> str:
    """Curves over the unit square: ``series`` is (css class, legend, points in [0, 1]^2); with
    ``diagonal`` the chance line from (0, 0) to (1, 1), dotted and labelled."""
    series = [(css, legend, points) for css, legend, points in series if points]
    if not series:
        return _empty_chart(label, "no curve in the statistics")
    bottom = PAD_T + CURVE_PLOT
    legend = len(series) > 1
    height = bottom + 24 + (20 if legend else 0)
    sx = lambda x: PAD_L + CURVE_PLOT * min(max(x, 0.0), 1.0)  # noqa: E731
    sy = lambda y: bottom - CURVE_PLOT * min(max(y, 0.0), 1.0)  # noqa: E731
    parts = [_svg_open(label, height, CURVE_W, "square"),
             _axes("0", "1", "1", x_title, height, CURVE_W, y_title, bottom)]
    if diagonal:
        middle = (sx(0.5), sy(0.5))
        parts.append(f'<line class="chance" x1="{sx(0)}" y1="{sy(0)}" x2="{sx(1)}" y2="{sy(1)}"/>'
                     f'<text class="tick muted" x="{middle[0] + 6:.1f}" y="{middle[1] + 16:.1f}" '
                     f'transform="rotate(-45 {middle[0] + 6:.1f} {middle[1] + 16:.1f})">chance</text>')
    for css, name, points in series:
        parts.append(f'<polyline class="line {css}" points="{_compact([(sx(x), sy(y)) for x, y in points])}">'
                     f"<title>{_e(name)}</title></polyline>")
    if legend:
        x = 8
        for css, name, _ in series:
            parts.append(f'<line class="line {css}" x1="{x}" y1="{height - 12}" x2="{x + 24}" y2="{height - 12}"/>'
                         f'<text class="tick" x="{x + 28}" y="{height - 8}">{_e(name)}</text>')
            x += 150
    parts.append("</svg>")
    return "".join(parts)


def _curves(metrics: dict, baseline: dict | None) -> str:
    def series(key: str, x_key: str, y_key: str) -> list[tuple[str, str, list[tuple[float, float]]]]:
        current = _curve(metrics, key, x_key, y_key)
        if baseline is None:
            return [("model", "model", current)]
        return [("baseline", "baseline (solid)", _curve(baseline, key, x_key, y_key)), ("current", "current (dashed)", current)]

    auc = f"AUC {_metric_text(_metric_value(metrics, 'auc'))}"
    if baseline is not None:
        auc += f" (baseline {_metric_text(_metric_value(baseline, 'auc'))})"
    if not any(_dict(doc.get(key)) for doc in (metrics, _dict(baseline)) for key in _CURVES):
        return f'<p class="muted" id="no-curves">The statistics hold no ROC or precision-recall curve ({_e(auc)}).</p>'
    roc = curve_svg("ROC curve", "false positive rate", "true positive rate",
                    series("receiver_operating_characteristic_curve", "false_positive_rates", "true_positive_rates"), True)
    pr = curve_svg("Precision-recall curve", "recall", "precision", series("precision_recall_curve", "recalls", "precisions"))
    return (f'<div class="charts"><figure id="roc"><figcaption>ROC curve, {_e(auc)}</figcaption>{roc}</figure>'
            f'<figure id="precision-recall"><figcaption>Precision-recall curve</figcaption>{pr}</figure></div>')


def render_model_quality_html(statistics: dict, constraints: dict | None = None, violations: dict | None = None,
                              baseline_statistics: dict | None = None, message: str | None = None,
                              title: str = "Model quality report") -> str:
    """The model-quality page: problem type and dataset, the metrics table (violated rows marked,
    with thresholds and, given ``baseline_statistics``, the baseline's values), the confusion
    matrix of a classification, and a binary problem's ROC and precision-recall curves.
    ``violations`` (even empty) makes it a monitoring page with a verdict and a status column."""
    statistics = _dict(statistics)
    problem_type, metrics = model_quality_section(statistics) or ("-", {})
    baseline = None if baseline_statistics is None else (model_quality_section(baseline_statistics) or ("-", {}))[1]
    constrained = _constraint_section(constraints, problem_type)
    violation_list = [_dict(v) for v in _list(_dict(violations).get("violations"))]
    violated: dict[str, list[dict]] | None = None
    if violations is not None:
        violated = {}
        for v in violation_list:
            violated.setdefault(_snake(str(v.get("metric_name", ""))), []).append(v)
    anchors = {key: f"metric-{i}" for i, key in enumerate(_metric_keys(metrics, constrained, violated or {}))}

    out = [_page_open(title)]
    if violations is not None:
        out.append(_verdict(_completed(len(violation_list)) if message is None else message, bool(violation_list)))
        out.append(_violations_table(violation_list, "metric", lambda v: str(v.get("metric_name", "")),
                                     {name: anchors[_snake(name)] for name in (str(v.get("metric_name", "")) for v in violation_list)}))
    elif message:
        out.append(_verdict(message, False))

    documents = [("current", statistics)]
    if baseline_statistics is not None:
        documents.insert(0, ("baseline", _dict(baseline_statistics)))
    paired = len(documents) > 1
    dataset_rows = [("problem type", lambda doc: (model_quality_section(doc) or ("-",))[0]),
                    ("records", lambda doc: fmt(_dict(doc.get("dataset")).get("item_count"))),
                    ("evaluation time", lambda doc: str(_dict(doc.get("dataset")).get("evaluation_time", "-")))]
    head = f'<tr><th></th>{"".join(f"<th>{_e(name)}</th>" for name, _ in documents)}</tr>' if paired else ""
    body = "".join(f'<tr><th>{_e(label)}</th>{"".join(f"<td>{_e(read(doc))}</td>" for _, doc in documents)}</tr>'
                   for label, read in dataset_rows)
    out.append(f'<h2>Dataset</h2><table class="dataset">{head}{body}</table>')

    out.append('<h2 id="metrics">Metrics</h2>')
    if anchors:
        out.append(_metrics_table(metrics, constrained, baseline, violated, anchors))
    else:
        out.append('<p class="muted">The statistics hold no model-quality metrics.</p>')
    if problem_type in ("BinaryClassification", "MulticlassClassification"):
        out.append(f'<h2 id="confusion-matrix">Confusion matrix</h2>{confusion_table(metrics.get("confusion_matrix"))}')
    if problem_type == "BinaryClassification":
        out.append(f'<h2 id="curves">Curves</h2>{_curves(metrics, baseline)}')
    out.append("</body></html>\n")
    return "".join(out)
