"""SageMaker data-capture files -> a DataFrame of feature columns, in Spark SQL (no Python per row).

Each capture line is one inference: ``captureData.endpointInput`` / ``endpointOutput`` hold a
payload (``data``) in an ``encoding`` (CSV, JSON or BASE64 of ``observedContentType``). A payload
becomes one or more records:

- CSV: one record per non-empty line, fields split on commas (double-quoted fields may hold
  commas); an empty field is a missing value.
- JSON: an object of scalars is one record keyed by name; an object with a single array member
  (``{"instances": [...]}``, ``{"predictions": [...]}``) is replaced by that array; an array of
  scalars is one positional record, an array of arrays or objects is one record per element; a
  scalar is a one-field record. ``application/jsonlines`` payloads are split into lines first.
- BASE64: decoded, then read as CSV or JSON by content type; other content types cannot be
  tabulated and count as undecodable.

The output record comes first, then the input record (SageMaker's START position), and the
fields are named by position after the baseline's features, as SageMaker does; JSON keys that
are feature names fill those features. Lines that are not JSON or have no ``captureData`` are
counted and skipped, shadow-variant traffic is skipped, and only records with
``start_time <= inferenceTime < end_time`` are analysed. ``profile_capture`` decodes and
profiles in one scan of the files.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from analyzer import DatasetProfile, ProfileOptions, profile
from analyzer.errors import InputError
from analyzer.profile import Cells

from .config import CaptureFormat
from .dataset import list_data_files

log = logging.getLogger(__name__)

CORRUPT = "__mmon_corrupt_line__"
_SIDE = "struct<observedContentType:string,mode:string,data:string,encoding:string>"
CAPTURE_SCHEMA = (
    f"captureData struct<endpointInput:{_SIDE},endpointOutput:{_SIDE}>, "
    "eventMetadata struct<eventId:string,inferenceId:string,inferenceTime:string,invocationSource:string>, "
    f"eventVersion string, {CORRUPT} string"
)
_HOUR_PATH = re.compile(r"(?:^|/)(\d{4})/(\d{2})/(\d{2})/(\d{2})/[^/]+$")
_QUOTE_AWARE_COMMA = r',(?=(?:[^"]*"[^"]*")*[^"]*$)'
_NO_MAP = "CAST(NULL AS map<string,string>)"
_NO_ARRAY = "CAST(NULL AS array<string>)"


def files_in_window(files: list[str], start: datetime | None, end: datetime | None) -> list[str]:
    """Drop capture files whose yyyy/mm/dd/hh folder lies wholly outside the window."""
    if start is None and end is None:
        return files
    kept = []
    for path in files:
        match = _HOUR_PATH.search(path.replace("\\", "/"))
        if match is None:
            kept.append(path)
            continue
        hour = datetime(*map(int, match.groups()), tzinfo=timezone.utc)
        if (start is None or hour + timedelta(hours=1) > start) and (end is None or hour < end):
            kept.append(path)
    return kept


def _let(value: str, name: str, body: str) -> str:
    """SQL: evaluate ``value`` once and use it as ``name`` in ``body`` (Spark SQL has no LET; a
    one-element ``transform`` binds it). Keeps repeated sub-expressions such as ``from_json``
    from being copied into the plan (and parsed, analysed and evaluated) many times."""
    return f"transform(array({value}), {name} -> {body})[0]"


def _record(e: str) -> str:
    """SQL: one JSON element -> struct(pos array<string>, named map<string,string>)."""
    return (
        f"CASE WHEN startswith(ltrim({e}), '{{') THEN named_struct('pos', {_NO_ARRAY}, 'named', from_json({e}, 'map<string,string>')) "
        f"WHEN startswith(ltrim({e}), '[') THEN named_struct('pos', from_json({e}, 'array<string>'), 'named', {_NO_MAP}) "
        f"ELSE named_struct('pos', from_json(concat('[', {e}, ']'), 'array<string>'), 'named', {_NO_MAP}) END"
    )


def _json_records(doc: str, tag: str) -> str:
    """SQL: one JSON document -> array of records (unwrap a single array member, expand nesting).
    ``tag`` names its lambda variables apart from the caller's."""
    m, u, a, x = (f"{v}_{tag}" for v in ("m", "u", "a", "x"))
    single = f"element_at(map_values({m}), 1)"
    unwrapped = _let(
        f"from_json({doc}, 'map<string,string>')", m,
        f"CASE WHEN startswith(ltrim({doc}), '{{') AND size({m}) = 1 AND startswith(ltrim({single}), '[') "
        f"THEN {single} ELSE {doc} END",
    )
    first = f"element_at({a}, 1)"
    nested = f"(startswith(ltrim({first}), '[') OR startswith(ltrim({first}), '{{'))"
    elements = f"CASE WHEN startswith(ltrim({u}), '[') AND {nested} THEN {a} ELSE array({u}) END"
    expand = _let(f"from_json({u}, 'array<string>')", a, f"transform({elements}, {x} -> {_record(x)})")
    return _let(unwrapped, u, expand)


# Payload kinds (k_<side>), as small integers: compared many times per line.
_NONE, _CSV, _JSON, _OTHER = 0, 1, 2, 3
_TABULAR = f"({_CSV}, {_JSON})"


def _side_columns(side: str) -> dict[str, str]:
    """SQL expressions for one side, computed in stages that read the previous stages' columns:
    e_ (encoding), k_ (kind), t_ (decoded text), l_ (text without trailing line breaks),
    r_ (records), and whether decoding failed."""
    p = f"captureData.{side}"
    # SageMaker writes the encodings in capitals; other spellings pay for case mapping.
    encoding = f"(CASE WHEN {p}.encoding IN ('CSV', 'JSON', 'BASE64') THEN {p}.encoding ELSE upper({p}.encoding) END)"
    enc = f"e_{side}"
    ct = f"lower(coalesce({p}.observedContentType, ''))"
    kind = (
        f"(CASE WHEN {p} IS NULL OR {p}.data IS NULL THEN {_NONE} WHEN {enc} = 'CSV' THEN {_CSV} WHEN {enc} = 'JSON' THEN {_JSON} "
        f"WHEN {enc} = 'BASE64' AND {ct} LIKE '%csv%' THEN {_CSV} "
        f"WHEN {enc} = 'BASE64' AND {ct} LIKE '%json%' THEN {_JSON} ELSE {_OTHER} END)"
    )
    text = (
        f"(CASE WHEN {enc} = 'BASE64' THEN CASE WHEN k_{side} IN {_TABULAR} "
        f"THEN CAST(try_to_binary({p}.data, 'base64') AS STRING) END ELSE {p}.data END)"
    )
    # Fields are split on commas; an empty field becomes a missing value when columns are
    # projected. Double-quoted fields may hold commas (a slower, regex-based split).
    csv_fields = (
        f"CASE WHEN contains(l, '\"') THEN transform(split(l, '{_QUOTE_AWARE_COMMA}'), "
        f"f -> regexp_replace(f, '^\"|\"$', '')) ELSE split(l, ',') END"
    )
    # Blank lines are dropped, but a payload that is only blank is one record with one empty
    # field (an empty output value), so that later fields keep their positions.
    nonblank = f"filter(split(t_{side}, '\\r?\\n'), l -> trim(l) != '')"
    lines = _let(nonblank, "nb", "CASE WHEN size(nb) = 0 THEN array('') ELSE nb END")
    # The common payload, one unquoted line, takes a path without lambda functions (Spark
    # interprets those element by element).
    # (l_<side>, its own column so that it is computed once: the payload without trailing line breaks)
    # Trimmed only when it ends with a line break: Spark's trim with a character set walks the
    # whole string and allocates two int arrays of its length (5% of the scan's CPU here).
    t = f"t_{side}"
    one_line = f"(CASE WHEN endswith({t}, '\\n') OR endswith({t}, '\\r') THEN TRIM(TRAILING '\\r\\n' FROM {t}) ELSE {t} END)"
    # contains() tests the first byte before comparing (instr() compares at every position)
    simple = f"(NOT contains(l_{side}, '\\n') AND NOT contains(l_{side}, '\\r') AND NOT contains(t_{side}, '\"'))"
    csv_records = (
        f"(CASE WHEN {simple} THEN array(named_struct('pos', split(l_{side}, ','), 'named', {_NO_MAP})) "
        f"ELSE transform({lines}, l -> named_struct('pos', {csv_fields}, 'named', {_NO_MAP})) END)"
    )
    # A JSON Lines payload is several documents; any other JSON payload is one.
    documents = f"(CASE WHEN {ct} LIKE '%jsonl%' OR {ct} LIKE '%jsonlines%' THEN {lines} ELSE array(t_{side}) END)"
    json_records = f"flatten(transform({documents}, d -> {_json_records('d', 'doc')}))"
    records = (
        f"(CASE WHEN k_{side} = {_CSV} THEN {csv_records} WHEN k_{side} = {_JSON} THEN {json_records} END)"
    )
    failed = (
        f"(k_{side} = {_OTHER} OR (k_{side} IN {_TABULAR} AND t_{side} IS NULL) "
        f"OR ({enc} = 'BASE64' AND k_{side} IN {_TABULAR} AND NOT is_valid_utf8(t_{side})) "
        f"OR (k_{side} = {_JSON} AND exists(r_{side}, r -> r.pos IS NULL AND r.named IS NULL)))"
    )
    line = f"(CASE WHEN k_{side} = {_CSV} THEN {one_line} END)"
    return {"encoding": encoding, "kind": kind, "text": text, "line": line, "records": records, "failed": failed}


@dataclass(frozen=True)
class CaptureSummary:
    lines: int
    bad_lines: int
    shadow: int
    outside_window: int
    decode_failures: int
    records: int
    max_fields: int
    keys: tuple[str, ...]
    bad_example: str | None
    decode_example: str | None


def profile_capture(spark, source: str, fmt: CaptureFormat, baseline_names: list[str], start, end,
                    max_bad_fraction: float, options: ProfileOptions) -> DatasetProfile:
    """Decode the capture in the window and profile its records, in one scan of the files.

    Columns are named after the baseline by position, and JSON keys that are feature names fill
    those features; that needs the widest record and the set of JSON keys, which are only known
    after reading everything. The scan therefore assumes the baseline's layout (at most as many
    fields as features, no other keys) and counts, on the side (``observe``), the lines, bad
    lines, records, widest record and keys. When the assumption held (the usual case) the
    profile is kept, minus columns that no record filled; otherwise the records are profiled
    again with the layout they really have.
    """
    from pyspark.sql import Observation

    all_files = list_data_files(source)
    files = files_in_window(all_files, start, end)
    log.info("Capture files: %d under %s, %d in the hours of the window", len(all_files), source, len(files))
    if not files:
        raise InputError("NO_CAPTURE_IN_WINDOW", start=iso(start), end=iso(end), source=source)
    decoded = _decode(spark, files, fmt, start, end)
    if baseline_names:
        observation = Observation("capture")
        observed = decoded.observe(observation, *_summary_aggregates())
        result = profile(_record_cells(observed, baseline_names), options)
        summary = _summary(observation.get)
    else:  # no columns to assume (and a profile of none would run no Spark job to observe)
        result = None
        summary = _summary(decoded.agg(*_summary_aggregates()).collect()[0].asDict())
    log.info(
        "Capture lines: %d; skipped %d malformed, %d shadow, %d outside the window, %d undecodable; %d records",
        summary.lines, summary.bad_lines, summary.shadow, summary.outside_window, summary.decode_failures, summary.records,
    )
    _check_summary(summary, source, start, end, max_bad_fraction)
    actual = _layout(summary.max_fields, summary.keys, baseline_names)
    names = [name for name, _, _ in actual]
    if result is not None and summary.max_fields <= len(baseline_names) and set(summary.keys) <= set(baseline_names):
        return result.only(names)
    log.info("Records are wider than the baseline (%d fields, keys %s): profiling them again", summary.max_fields, list(summary.keys))
    return profile(_records(decoded, actual), options)


_USABLE = "(NOT bad AND NOT shadow AND in_window)"
Layout = list[tuple[str, "int | None", bool]]  # column name, position in the record, look up by key


def _layout(max_fields: int, keys: tuple[str, ...], baseline_names: list[str]) -> Layout:
    """Columns in SageMaker's order: position i is named after the baseline's i-th feature
    (``_c<i>`` past them); JSON keys fill the feature of that name, other keys are appended."""
    columns: Layout = []
    for i in range(max_fields):
        name = baseline_names[i] if i < len(baseline_names) else f"_c{i}"
        columns.append((name, i, name in keys))
    named = {name for name, _, _ in columns}
    columns += [(key, None, True) for key in keys if key not in named]
    rank = {n: i for i, n in enumerate(baseline_names)}
    first = [c for c in columns if c[0] in rank]
    return sorted(first, key=lambda c: rank[c[0]]) + [c for c in columns if c[0] not in rank]


def _field(name: str, position: "int | None", by_key: bool) -> str:
    """SQL: a record's value for a layout column: its JSON key's value (when looked up by key),
    else the field at its position."""
    sources = []
    if by_key:
        sources.append(f"try_element_at(rec.named, '{sql_string(name)}')")
    if position is not None:
        sources.append(f"try_element_at(rec.pos, {position + 1})")
    return f"coalesce({', '.join(sources)})"


def _usable_records(decoded):
    """One row (``rec``) per record of the lines that decoded and are to be analysed.

    ``recs`` is null unless the line is ``ok``. The records are filtered after the explode, not
    before: Spark pushes a filter on ``ok`` or ``recs`` (also the one it infers for a plain
    ``explode``) below the decoding projections with every column it reads inlined, so the
    whole decoding ran twice per line without its staged sub-expressions (3.5 s more on
    500,000 lines, warm) wherever nothing stopped the push, as in the re-profiling of wider
    records."""
    from pyspark.sql import functions as F

    return decoded.select(F.explode_outer("recs").alias("rec")).where(F.col("rec").isNotNull())


def _records(decoded, layout: Layout):
    from pyspark.sql import functions as F

    columns = [F.expr(f"nullif({_field(*column)}, '')").alias(column[0]) for column in layout]
    return _usable_records(decoded).select(*columns)


def _record_cells(decoded, names: list[str]) -> Cells:
    """The records as :class:`Cells` in the baseline's layout (field j is feature j, and a JSON
    object's value for a feature's name wins; records cut or padded to the features): the
    same values as ``_records`` with that layout, without building a row per record first."""
    from pyspark.sql import functions as F

    n = len(names)
    keyed = ", ".join(_field(name, j, True) for j, name in enumerate(names))
    fields = (
        f"CASE WHEN rec.named IS NULL AND size(rec.pos) = {n} THEN rec.pos "
        f"WHEN rec.named IS NULL THEN slice(concat(rec.pos, array_repeat(CAST(NULL AS STRING), {n})), 1, {n}) "
        f"ELSE array({keyed}) END"
    )
    cells = (
        _usable_records(decoded)
        .select(F.posexplode(F.expr(fields)).alias("i", "v"))
        .select("i", F.expr("nullif(v, '')").alias("v"))
    )
    return Cells(cells, tuple(names))


def _decode(spark, files: list[str], fmt: CaptureFormat, start, end):
    """One row per capture line: its verdicts (bad, shadow, in the window, undecodable, ok) and
    its records (``recs``: array of struct(pos array<string>, named map<string,string>))."""
    from pyspark.sql import functions as F

    raw = spark.read.schema(CAPTURE_SCHEMA).option("mode", "PERMISSIVE").option("columnNameOfCorruptRecord", CORRUPT).json(files)
    sides = list(fmt.capture_index_names)
    order = [s for s in ("endpointOutput", "endpointInput") if s in sides]  # output first (START)
    exprs = {s: _side_columns(s) for s in order}
    # One projection per stage (each later stage reads the columns of the one before); a
    # withColumn per column would re-analyse the growing plan every time (about 2 s here).
    df = raw
    for part in ("encoding", "kind", "text", "line", "records"):
        prefix = part[0]
        df = df.withColumns({f"{prefix}_{s}": F.expr(exprs[s][part]) for s in order})
    when = "try_to_timestamp(eventMetadata.inferenceTime)"
    window = ["TRUE"]
    if start is not None:
        window.append(f"{when} >= timestamp'{start.strftime('%Y-%m-%d %H:%M:%S')}'")
    if end is not None:
        window.append(f"{when} < timestamp'{end.strftime('%Y-%m-%d %H:%M:%S')}'")
    no_side = " AND ".join(f"k_{s} = {_NONE}" for s in order)
    df = df.withColumns({
        "bad": F.expr(f"{CORRUPT} IS NOT NULL OR captureData IS NULL OR ({no_side})"),
        "shadow": F.expr("coalesce(eventMetadata.invocationSource = 'ShadowExperiment', FALSE)"),
        "in_window": F.expr(f"coalesce({' AND '.join(window)}, FALSE)"),
        "failed": F.expr(" OR ".join(exprs[s]["failed"] for s in order)),
    })
    df = df.withColumn("ok", F.expr(f"{_USABLE} AND NOT failed"))
    outer, inner = (f"r_{order[0]}", f"r_{order[1]}") if len(order) == 2 else (f"r_{order[0]}", None)
    if inner is None:
        pairs = f"transform(coalesce({outer}, array()), r -> named_struct('pos', r.pos, 'named', r.named))"
    else:
        # One output and one input record (the usual case) are joined without lambdas.
        single = (
            f"array(named_struct('pos', concat(coalesce({outer}[0].pos, array()), coalesce({inner}[0].pos, array())), "
            f"'named', CASE WHEN {outer}[0].named IS NULL AND {inner}[0].named IS NULL THEN {_NO_MAP} "
            f"ELSE map_concat(coalesce({outer}[0].named, map()), coalesce({inner}[0].named, map())) END))"
        )
        zipped = (
            f"transform(arrays_zip(coalesce({outer}, array()), coalesce({inner}, array())), z -> named_struct("
            f"'pos', concat(coalesce(z['0'].pos, array()), coalesce(z['1'].pos, array())), "
            f"'named', map_concat(coalesce(z['0'].named, map()), coalesce(z['1'].named, map()))))"
        )
        pairs = f"(CASE WHEN size({outer}) = 1 AND size({inner}) = 1 THEN {single} ELSE {zipped} END)"
    df = df.withColumn("recs", F.expr(f"CASE WHEN ok THEN {pairs} END"))
    has_json = " OR ".join(f"k_{s} = {_JSON}" for s in order)
    df = df.select(
        "bad", "shadow", "in_window", "failed", "ok", "recs", F.expr(f"coalesce({has_json}, FALSE)").alias("has_json"),
        F.expr(f"CASE WHEN bad THEN coalesce(substr({CORRUPT}, 1, 120), concat('eventId ', coalesce(eventMetadata.eventId, '?'), ' has no captureData')) END").alias("bad_example"),
        F.expr(f"CASE WHEN {_USABLE} AND failed THEN coalesce(eventMetadata.eventId, '?') END").alias("decode_example"),
    )
    return df


def _summary_aggregates():
    from pyspark.sql import functions as F

    return [
        F.count(F.lit(1)).alias("lines"),
        F.count_if(F.col("bad")).alias("bad_lines"),
        F.count_if(F.expr("NOT bad AND shadow")).alias("shadow"),
        F.count_if(F.expr("NOT bad AND NOT shadow AND NOT in_window")).alias("outside_window"),
        F.count_if(F.expr(f"{_USABLE} AND failed")).alias("decode_failures"),
        F.sum(F.expr("size(recs)")).alias("records"),
        F.max(F.expr(
            "CASE WHEN size(recs) = 1 THEN size(recs[0].pos) ELSE array_max(transform(recs, r -> size(r.pos))) END"
        )).alias("max_fields"),
        F.expr(
            "array_distinct(flatten(collect_set(CASE WHEN has_json THEN flatten(transform(recs, r -> map_keys(r.named))) END)))"
        ).alias("keys"),
        F.first("bad_example", ignorenulls=True).alias("bad_example"),
        F.first("decode_example", ignorenulls=True).alias("decode_example"),
    ]


def _summary(values) -> CaptureSummary:
    return CaptureSummary(
        lines=int(values["lines"] or 0), bad_lines=int(values["bad_lines"] or 0), shadow=int(values["shadow"] or 0),
        outside_window=int(values["outside_window"] or 0), decode_failures=int(values["decode_failures"] or 0),
        records=int(values["records"] or 0), max_fields=int(values["max_fields"] or 0),
        keys=tuple(sorted(values["keys"] or ())), bad_example=values["bad_example"], decode_example=values["decode_example"],
    )


def check_bad_lines(bad: int, total: int, max_bad_fraction: float, example: str) -> None:
    """Skip a few malformed lines; fail past the allowed fraction."""
    if total and bad / total > max_bad_fraction:
        raise InputError(
            "CAPTURE_TOO_MANY_BAD_LINES", bad=bad, total=total, allowed_percent=max_bad_fraction * 100, example=example,
        )


def _check_summary(s: CaptureSummary, source: str, start, end, max_bad_fraction: float) -> None:
    check_bad_lines(s.bad_lines, s.lines, max_bad_fraction, s.bad_example or "?")
    usable = s.lines - s.bad_lines - s.shadow - s.outside_window
    if usable and s.decode_failures / usable > max_bad_fraction:
        raise InputError(
            "CAPTURE_DECODE_FAILED", where=f"eventId {s.decode_example} (and {s.decode_failures - 1} more)",
            encoding="its declared encoding and content type", reason=f"{s.decode_failures} of {usable} records undecodable",
        )
    if s.records == 0:
        raise InputError("NO_CAPTURE_IN_WINDOW", start=iso(start), end=iso(end), source=source)


def sql_string(text: str) -> str:
    """Escape text for a single-quoted Spark SQL literal."""
    return text.replace("\\", "\\\\").replace("'", "\\'")


def iso(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ") if t else "(open)"
