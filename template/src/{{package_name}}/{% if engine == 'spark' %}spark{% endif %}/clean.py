"""The clean stage on Spark: the pandas engine's row-level work (`data/clean.py`) as Spark expressions.

The same as the pandas engine, by construction:
- the schema: `infer_schema` itself runs on the whole file when it has at most
  spark.schema_sample_rows rows, else on a seeded sample, whose categories and classes are then
  completed from every row (a rare category must not be quarantined for missing the sample);
- the checks: translated one by one from the pandera schema that `build_pandera_schema` returns;
- the parsing: the token sets, regular expressions and separator rule of `data/schema.py`;
- the reasons: each row carries (column, problem, value) triples, worded by `data/rules.py`, that
  become the same `Problem` objects, so quarantine.csv and the counts read the same;
- the table-level rules (row accounting, minimum clean rows, class sizes, refreshed levels) and the
  layout of reports/data_quality.json: `data/rules.py`'s `conclude`, on counts this engine supplies.

What differs is where the rows are: the executors type and check them and write the clean table as
Parquet parts, in file order, that the driver appends to one file a row group at a time; the driver
holds the schema, the counts and, while it writes quarantine.csv, one partition of rejected rows.
"""

from __future__ import annotations

import csv
import logging
import re
import shutil
from collections import Counter
from dataclasses import dataclass
from functools import reduce
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd  # at module level: pandas_udf reads the type hints of parse()

from ..config import CleanParams, DataParams, Params, Paths
from ..data import rules
from ..data.io import DataError, atomic_dir, read_csv, write_json
from ..data.schema import (
    COMMA_MEANS,
    CURRENCY,
    DECIMAL_COMMA,
    FALSE_VALUES,
    PERCENT,
    THOUSANDS,
    TRUE_VALUES,
    UNIT_SIGNS,
    DatasetSchema,
    build_pandera_schema,
    drop_features,
    infer_schema,
    separator_rule,
)
from .session import get_spark
from .tables import ROW, RawTable, read_raw, write_parquet_file

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, Row
    from pyspark.sql._typing import UserDefinedFunctionLike

log = logging.getLogger(__name__)

REASONS = "_reasons"
PROBLEM_TYPE = "struct<column:string,problem:string,value:string,number:double>"
# What Python's str.strip() removes: every character for which str.isspace() is true (Spark's
# trim() removes only spaces).
PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# Spark's cast to double also takes what pandas.to_numeric refuses: '1.5d', '2f', '0x1p3'.
NUMBER_END = list("0123456789.")
INFINITIES = ["inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"]
# pandera check name -> Spark condition for a failing, non-null value.
CHECKS = {
    "isin": lambda c, s: ~c.isin(list(s["allowed_values"])),
    "notin": lambda c, s: c.isin(list(s["forbidden_values"])),
    "greater_than_or_equal_to": lambda c, s: c < s["min_value"],
    "greater_than": lambda c, s: c <= s["min_value"],
    "less_than_or_equal_to": lambda c, s: c > s["max_value"],
    "less_than": lambda c, s: c >= s["max_value"],
    "equal_to": lambda c, s: c != s["value"],
    "not_equal_to": lambda c, s: c == s["value"],
    "in_range": lambda c, s: (
        (c < s["min_value"] if s["include_min"] else c <= s["min_value"])
        | (c > s["max_value"] if s["include_max"] else c >= s["max_value"])
    ),
}


@dataclass(frozen=True)
class SparkClean:
    """The flagged table: every raw row with its typed values (`_t0`, ...) and its problems."""

    raw: RawTable
    flagged: DataFrame
    schema: DatasetSchema
    typed: list[str]  # schema column names (features, then the target), in `_t<i>` order

    def typed_column(self, name: str) -> str:
        return f"_t{self.typed.index(name)}"


def as_text(column: Column) -> Column:
    """data.schema.as_text: trimmed the way Python trims, null kept null."""
    from pyspark.sql import functions as F

    return F.btrim(column, F.lit(PY_WHITESPACE))


def _problem(
    when: Column, column: str | None, problem: str, value: Column | None = None, number: Column | None = None
) -> Column:
    from pyspark.sql import functions as F

    return F.when(
        when,
        F.struct(
            F.lit(column).cast("string").alias("column"),
            F.lit(problem).alias("problem"),
            (value if value is not None else F.lit(None)).cast("string").alias("value"),
            (number if number is not None else F.lit(None)).cast("double").alias("number"),
        ),
    )


def _one_row(frame: DataFrame) -> Row:
    """The single row of an aggregate without grouping (PySpark types `first()` as optional)."""
    row = frame.first()
    if row is None:
        raise DataError("Spark returned no row for a whole-table aggregate, which has one; rerun the stage.")
    return row


def _java_regex(pattern: re.Pattern[str]) -> str:
    """A Python pattern for Spark (Java), whose classes (\\s, \\d) then match Unicode, as Python's do."""
    return f"(?U){pattern.pattern}"


def _number_text(text: Column, rule: str) -> Column:
    """data.schema._number_text, with the per-column separator decision made beforehand (`rule`)."""
    from pyspark.sql import functions as F

    units = reduce(lambda a, b: a | b, [text.contains(sign) for sign in UNIT_SIGNS])
    unsigned = F.regexp_replace(F.regexp_replace(text, _java_regex(CURRENCY), "$1"), _java_regex(PERCENT), "")
    text = F.when(units, unsigned).otherwise(text)
    return text if rule == "none" else F.regexp_replace(text, ",", COMMA_MEANS[rule])


def _parse_number(text: Column) -> Column:
    """data.schema.parse_numeric on number-like text: a double, or null where pandas gives NaN."""
    from pyspark.sql import functions as F

    plain = F.substring(text, -1, 1).isin(NUMBER_END) & ~text.contains("x") & ~text.contains("X")
    return F.when(plain | F.lower(text).isin(INFINITIES), text.try_cast("double"))


def _separator_stats(text: Column) -> list[Column]:
    from pyspark.sql import functions as F

    text = _number_text(text, "none")
    comma = text.contains(",")
    return [
        F.sum(comma.cast("long")),
        F.sum((comma & ~text.rlike(_java_regex(THOUSANDS))).cast("long")),
        F.sum((comma & ~text.rlike(_java_regex(DECIMAL_COMMA))).cast("long")),
        F.sum(text.contains(".").cast("long")),
    ]


def _datetime_parts(text: Column, fmt: str | None, parts: list[str]) -> Column:
    """Date parts parsed by the pandas engine's own `parse_datetime`, run on the executors."""
    from pyspark import cloudpickle
    from pyspark.sql.pandas.functions import pandas_udf

    from ..data import schema as schema_module

    # Ship parse_datetime itself to the executors, so a cluster does not need this package installed.
    cloudpickle.register_pickle_by_value(schema_module)  # type: ignore[no-untyped-call]  # untyped in PySpark
    parse_datetime = schema_module.parse_datetime

    def parse(values: pd.Series) -> pd.DataFrame:
        parsed = parse_datetime(values, fmt)
        return pd.DataFrame({part: getattr(parsed.dt, part).astype("float64") for part in parts})

    returns = ", ".join(f"`{part}` double" for part in parts)
    # PySpark's stubs list only the functionType forms of pandas_udf, not this type-hint form.
    udf: UserDefinedFunctionLike = pandas_udf(parse, returns)  # type: ignore[call-overload]
    return udf(text)


def infer(
    raw: RawTable, path: Path, data: DataParams, clean: CleanParams, sample_rows: int, seed: int
) -> DatasetSchema:
    """The schema: `infer_schema` on the whole file if it is small, else on a seeded sample.

    A sample's categories and classes are completed from every row, and a text column with more
    than clean.max_categories distinct values in the whole table is dropped, as pandas would.
    """
    from pyspark.sql import functions as F

    if raw.rows <= sample_rows:
        return infer_schema(read_csv(path, data.encoding), data, clean)
    sample = (
        raw.frame.sample(fraction=min(1.0, sample_rows / raw.rows), seed=seed)
        .toPandas()
        .sort_values(ROW)
        .drop(columns=ROW)
        .reset_index(drop=True)
    )
    sample.columns = raw.columns
    sample = sample.astype("str").where(sample.notna())
    log.info("inferring the schema from a seeded sample of %d of %d rows", len(sample), raw.rows)
    schema = infer_schema(sample, data, clean)

    levels = [c.name for c in schema.features if c.kind == "categorical"]
    if data.task == "classification":
        levels.append(data.target)
    if not levels:
        return schema
    distinct = _one_row(
        raw.frame.agg(
            *[F.count_distinct(as_text(raw.column(name))).alias(f"n{i}") for i, name in enumerate(levels)]
        )
    )
    counts = {name: distinct[f"n{i}"] for i, name in enumerate(levels)}
    if data.task == "classification":
        rules.check_class_count(data.target, counts[data.target])
    too_wide = {
        name: reason
        for name in levels
        if name != data.target and (reason := rules.too_many_categories(name, counts[name], clean))
    }
    schema = drop_features(schema, too_wide)
    keep = [name for name in levels if name not in too_wide]
    values = _one_row(
        raw.frame.agg(
            *[
                F.array_sort(F.collect_set(as_text(raw.column(name)))).alias(f"v{i}")
                for i, name in enumerate(keep)
            ]
        )
    )
    complete = {name: list(values[f"v{i}"]) for i, name in enumerate(keep)}
    features = [
        c.model_copy(update={"categories": complete[c.name]}) if c.kind == "categorical" else c
        for c in schema.features
    ]
    target = schema.target
    if data.task == "classification":
        target = target.model_copy(update={"classes": complete[data.target]})
    return schema.model_copy(update={"features": features, "target": target})


def flag_rows(raw: RawTable, schema: DatasetSchema, clean: CleanParams) -> SparkClean:
    """Type every row and list its problems, in the order the pandas engine finds them."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    numeric_sources = [c.name for c in schema.features if c.kind == "numeric" and not c.derived_from]
    if schema.target.task == "regression":
        numeric_sources.append(schema.target.name)
    separators: dict[str, str] = {}
    if numeric_sources:
        stats = _one_row(
            raw.frame.agg(
                *[e for name in numeric_sources for e in _separator_stats(as_text(raw.column(name)))]
            )
        )
        for i, name in enumerate(numeric_sources):
            separators[name] = separator_rule(*stats[4 * i : 4 * i + 4])

    # Parse every value once, into columns of their own: the typed values, the problems and the
    # checks below all read these columns instead of repeating the regular expressions.
    parse: dict[str, Column] = {}
    for i, source in enumerate(schema.datetime_columns):
        parts = [c.name.removeprefix(f"{source}_") for c in schema.derived(source)]
        fmt = schema.datetime_formats.get(source)
        parse[f"_d{i}"] = _datetime_parts(raw.column(source), fmt, parts)
    for i, column in enumerate(schema.features):
        if column.derived_from:
            continue
        text = as_text(raw.column(column.name))
        if column.kind == "categorical":
            parse[f"_p{i}"] = text
        elif column.kind == "boolean":
            lower = F.lower(text)
            parse[f"_p{i}"] = F.when(lower.isin(sorted(TRUE_VALUES)), F.lit(1.0)).when(
                lower.isin(sorted(FALSE_VALUES)), F.lit(0.0)
            )
        else:
            parse[f"_p{i}"] = _parse_number(_number_text(text, separators[column.name]))
    target_text = as_text(raw.column(schema.target.name))
    if schema.target.task == "classification":
        parse["_ptarget"] = target_text
    else:
        parse["_ptarget"] = _parse_number(_number_text(target_text, separators[schema.target.name]))
    raw_columns = [F.col(raw.internal(c)) for c in raw.columns]
    parsed_frame = raw.frame.select(ROW, *raw_columns, *[e.alias(name) for name, e in parse.items()])

    typed: dict[str, Column] = {}
    early: list[Column] = []  # typing and missing-value problems (data/clean.py: _type_columns, ...)

    def number(name: str, parsed: Column) -> Column:
        original = raw.column(name)
        early.append(
            _problem(original.isNotNull() & parsed.isNull(), name, rules.NOT_PARSED["numeric"], original)
        )
        infinite = F.abs(parsed) == float("inf")
        early.append(_problem(infinite, name, rules.INFINITE, original))
        return F.when(~infinite, parsed)

    for i, source in enumerate(schema.datetime_columns):
        original, date_parts = raw.column(source), F.col(f"_d{i}")
        derived = schema.derived(source)
        first_part = derived[0].name.removeprefix(f"{source}_")
        early.append(
            _problem(
                original.isNotNull() & date_parts[first_part].isNull(),
                source,
                rules.NOT_PARSED["datetime"],
                original,
            )
        )
        for column in derived:
            value = date_parts[column.name.removeprefix(f"{source}_")]
            typed[column.name] = F.when(~F.isnan(value), value)
    for i, column in enumerate(schema.features):
        if column.derived_from:
            continue
        original, parsed = raw.column(column.name), F.col(f"_p{i}")
        if column.kind == "categorical":
            typed[column.name] = parsed
        elif column.kind == "boolean":
            early.append(
                _problem(
                    original.isNotNull() & parsed.isNull(), column.name, rules.NOT_PARSED["boolean"], original
                )
            )
            typed[column.name] = parsed
        else:
            typed[column.name] = number(column.name, parsed)
    target = raw.column(schema.target.name)
    early.append(_problem(target.isNull(), schema.target.name, rules.TARGET_MISSING))
    typed[schema.target.name] = (
        F.col("_ptarget")
        if schema.target.task == "classification"
        else number(schema.target.name, F.col("_ptarget"))
    )
    for name, rule in rules.missing_policy(schema, clean).items():
        if rule == "drop":
            early.append(_problem(raw.column(name).isNull(), name, rules.MISSING_DROPPED))

    names = [*schema.feature_names, schema.target.name]
    typed_names = {name: f"_t{i}" for i, name in enumerate(names)}
    early_problems = (
        F.filter(F.array(*early), lambda p: p.isNotNull())
        if early
        else F.array().cast(f"array<{PROBLEM_TYPE}>")
    )
    frame = parsed_frame.select(
        ROW, *raw_columns, *[typed[n].alias(typed_names[n]) for n in names], early_problems.alias("_early")
    )
    problems = F.col("_early")

    text_columns = set(schema.categorical) | (
        {schema.target.name} if schema.target.task == "classification" else set()
    )
    checks: list[Column] = []  # pandera's, on the rows typing found no problem with
    for name, column in build_pandera_schema(schema).columns.items():
        value = F.col(typed_names[name])
        text_value = name in text_columns
        for check in column.checks:
            if check.name not in CHECKS:
                raise DataError(
                    f"the schema uses the pandera check '{check.name}', which the Spark engine cannot run "
                    "yet; set engine: pandas in params.yaml, or add the check to spark/clean.py."
                )
            fails = value.isNotNull() & CHECKS[check.name](value, check.statistics)
            label = rules.check_name(str(check.error))
            checks.append(
                _problem(
                    fails,
                    name,
                    label,
                    value=value if text_value else None,
                    number=None if text_value else value,
                )
            )
    if checks:
        passed = F.filter(F.array(*checks), lambda p: p.isNotNull())
        problems = F.when(F.size(problems) == 0, passed).otherwise(problems)
    if clean.drop_duplicates:
        first = F.min(ROW).over(Window.partitionBy(*[raw.internal(c) for c in raw.columns]))
        # raw.first_row - header records = 1: a record's file row number is its position + 1.
        duplicate = _problem(
            F.col(ROW) > first,
            None,
            rules.DUPLICATE,
            F.concat(F.lit(rules.EARLIER_ROW), (first + 1).cast("string")),
        )
        problems = F.concat(problems, F.filter(F.array(duplicate), lambda p: p.isNotNull()))
    flagged = frame.withColumn(REASONS, problems).drop("_early")
    return SparkClean(raw=raw, flagged=flagged, schema=schema, typed=names)


def _problems(entries: list[Any]) -> list[rules.Problem]:
    return [
        rules.Problem(
            p.column, p.problem, p.value if p.value is not None or p.number is None else str(p.number)
        )
        for p in entries
    ]


def write_quarantine(result: SparkClean, target: Path, any_rejected: bool = True) -> tuple[int, Counter[str]]:
    """Stream the rejected rows into quarantine.csv in file order; return their number and reason counts."""
    from pyspark.sql import functions as F

    raw = result.raw
    rejected = (
        result.flagged.where(F.size(REASONS) > 0)
        .orderBy(ROW)
        .select(ROW, *[raw.internal(c) for c in raw.columns], REASONS)
    )
    counts: Counter[str] = Counter()
    rows = 0
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([rules.ROW_COLUMN, *raw.columns, rules.REASON_COLUMN])
        for row in rejected.toLocalIterator() if any_rejected else ():
            problems = _problems(row[REASONS])
            counts.update(problem.key for problem in problems)
            writer.writerow([row[ROW] + 1, *row[1:-1], "; ".join(map(str, problems))])
            rows += 1
    return rows, counts


def summarize(result: SparkClean) -> dict[str, Any]:
    """One pass over the flagged table: clean rows, missing values, class counts, categories seen."""
    from pyspark.sql import functions as F

    raw, schema = result.raw, result.schema
    ok = F.size(REASONS) == 0
    target = F.col(result.typed_column(schema.target.name))
    classes = (schema.target.classes or []) if schema.target.task == "classification" else []
    levels = schema.categorical
    row = _one_row(
        result.flagged.agg(
            F.sum(ok.cast("long")).alias("clean"),
            *[F.sum(raw.column(c).isNull().cast("long")).alias(f"m{i}") for i, c in enumerate(raw.columns)],
            *[F.sum((ok & (target == label)).cast("long")).alias(f"k{i}") for i, label in enumerate(classes)],
            *[
                F.array_sort(F.collect_set(F.when(ok, F.col(result.typed_column(name))))).alias(f"l{i}")
                for i, name in enumerate(levels)
            ],
        )
    )
    return {
        "clean": int(row["clean"] or 0),
        "missing": {name: int(row[f"m{i}"] or 0) for i, name in enumerate(raw.columns)},
        "classes": {label: int(row[f"k{i}"]) for i, label in enumerate(classes) if row[f"k{i}"]},
        "levels": {name: list(row[f"l{i}"]) for i, name in enumerate(levels)},
    }


def run_clean(params: Params, paths: Paths) -> dict[str, Any]:
    """The clean stage with Spark: the same outputs as the pandas engine's `run_clean`.

    data/interim/ gets clean.parquet, quarantine.csv and schema.json and is replaced as a whole
    only when cleaning succeeds; reports/data_quality.json follows.
    """
    from pyspark.sql import functions as F

    data, clean, split = params.data, params.clean, params.split
    spark = get_spark(params.spark, params.project)
    path = paths.raw_csv(data.name)
    raw = read_raw(spark, path, data.encoding)
    schema = infer(raw, path, data, clean, params.spark.schema_sample_rows, split.seed)
    result = flag_rows(raw, schema, clean)

    with atomic_dir(paths.interim) as staging:
        # One pass types and checks every row; everything after reads that pass's Parquet output.
        flagged_path = staging / "flagged.parquet"
        result.flagged.write.parquet(str(flagged_path))
        result = SparkClean(raw, spark.read.parquet(str(flagged_path)), schema, result.typed)
        totals = summarize(result)
        quarantined, reasons = write_quarantine(
            result, staging / paths.quarantine.name, any_rejected=totals["clean"] < raw.rows
        )
        tally = rules.Tally(
            raw.rows,
            totals["clean"],
            quarantined,
            reasons,
            totals["missing"],
            totals["classes"],
            totals["levels"],
        )
        schema, quality = rules.conclude(tally, schema, clean, split)
        clean_rows = result.flagged.where(F.size(REASONS) == 0).orderBy(ROW)
        write_parquet_file(
            clean_rows.select(*[F.col(result.typed_column(n)).alias(n) for n in result.typed]),
            staging / paths.clean.name,
            staging,
        )
        shutil.rmtree(flagged_path)
        write_json(staging / paths.schema.name, schema.model_dump(mode="json"))
    rules.write_quality(paths.data_quality, quality)
    return quality
