"""The featurize stage with Spark: a seeded, stratified train/test split of the clean table.

Up to spark.local_split_rows clean rows, the table is small enough to split in memory exactly as
the pandas engine does (`features.run_featurize`), so both engines train the same model. Above it,
Spark splits by a seeded hash of each row, stratified by class, and writes train.parquet and
test.parquet as single files. When the training split has more than spark.train_max_rows rows,
train.parquet holds a seeded stratified sample of that size instead, and features.json says so
(`split.train_sample`), for the training stage to record.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from functools import reduce
from typing import TYPE_CHECKING, Any

from ..config import Params, Paths
from ..data.io import atomic_dir, read_json, write_json
from ..data.schema import DatasetSchema
from ..features import example_row
from ..features import run_featurize as run_featurize_in_memory
from .session import get_spark
from .tables import parquet_rows, write_parquet_file

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

log = logging.getLogger(__name__)

EXACT_CLASS_ROWS = 10_000  # classes up to this size get exact quotas; larger ones a hash threshold
HASH_RANGE = 1 << 62


def hash_uniform(seed: int, columns: list[str]) -> Column:
    """A number in [0, 1) from a seeded hash of the row's values: the same row always draws the same."""
    from pyspark.sql import functions as F

    return F.pmod(F.xxhash64(F.lit(seed), *[F.col(c) for c in columns]), F.lit(HASH_RANGE)) / float(
        HASH_RANGE
    )


def pick(
    frame: DataFrame, draw: str, by: str | None, counts: dict[Any, int], quota: Callable[[int], int]
) -> DataFrame:
    """`frame` with a boolean `_pick` on about quota(n) of the n rows of each class (of all rows if `by` is None).

    A class of at most EXACT_CLASS_ROWS rows gets exactly quota(n) rows, those with the lowest draws,
    so a small class is never left out. A larger class takes the rows whose draw is below
    quota(n) / n, which needs no sort and lands within a fraction of a percent of quota(n).
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if by is None:
        (n,) = counts.values()
        return frame.withColumn("_pick", F.col(draw) < quota(n) / n)
    small = {label: n for label, n in counts.items() if n <= EXACT_CLASS_ROWS}
    large = {label: n for label, n in counts.items() if n > EXACT_CLASS_ROWS}
    parts = []
    if large:
        share = F.create_map(*[F.lit(x) for label, n in large.items() for x in (label, quota(n) / n)])
        rows = frame.where(F.col(by).isin(list(large)))
        parts.append(rows.withColumn("_pick", F.col(draw) < share[F.col(by)]))
    if small:
        quotas = F.create_map(*[F.lit(x) for label, n in small.items() for x in (label, quota(n))])
        rank = F.row_number().over(Window.partitionBy(by).orderBy(draw))
        rows = frame.where(F.col(by).isin(list(small)))
        parts.append(rows.withColumn("_pick", rank <= quotas[F.col(by)]))
    return reduce(lambda a, b: a.unionByName(b), parts)


def run_featurize(params: Params, paths: Paths) -> dict[str, Any]:
    """The featurize stage: data/processed/ gets train.parquet, test.parquet and features.json."""
    from pyspark.sql import functions as F

    split, settings = params.split, params.spark
    schema = DatasetSchema.model_validate(read_json(paths.schema))
    rows = parquet_rows(paths.clean)
    if (
        rows <= settings.local_split_rows
        and rows - math.ceil(rows * split.test_size) <= settings.train_max_rows
    ):
        log.info("%d clean rows fit in memory: splitting them as the pandas engine does", rows)
        return run_featurize_in_memory(split, paths)

    spark = get_spark(settings, params.project)
    names = [*schema.feature_names, schema.target.name]
    internal = [f"_t{i}" for i in range(len(names))]
    clean = spark.read.parquet(str(paths.clean)).select(
        *[F.col(f"`{n}`").alias(c) for n, c in zip(names, internal, strict=True)]
    )
    target = internal[-1]
    classify = schema.target.task == "classification"
    counts = (
        {row[0]: int(row[1]) for row in clean.groupBy(target).count().collect()} if classify else {None: rows}
    )
    drawn = clean.withColumn("_u", hash_uniform(split.seed, internal)).withColumn(
        "_v", hash_uniform(split.seed + 1, internal)
    )
    test_quota = lambda n: min(n - 1, max(1, round(n * split.test_size)))  # noqa: E731
    marked = pick(drawn, "_u", target if classify else None, counts, test_quota)
    output = [F.col(c).alias(n) for c, n in zip(internal, names, strict=True)]

    with atomic_dir(paths.processed) as staging:
        test_rows = write_parquet_file(
            marked.where("_pick").select(*output), staging / paths.test.name, staging
        )
        train = marked.where("NOT _pick").drop("_pick")
        train_rows = rows - test_rows
        sample = None
        if train_rows > settings.train_max_rows:
            share = settings.train_max_rows / train_rows
            train_counts = (
                {row[0]: int(row[1]) for row in train.groupBy(target).count().collect()}
                if classify
                else {None: train_rows}
            )
            by = target if classify else None
            train = pick(train, "_v", by, train_counts, lambda n: max(1, round(n * share))).where("_pick")
        written = write_parquet_file(train.select(*output), staging / paths.train.name, staging)
        if written != train_rows:
            sample = {
                "rows": written,
                "of": train_rows,
                "seed": split.seed + 1,
                "stratified_by": schema.target.name if classify else None,
                "why": f"the training split has more rows than spark.train_max_rows ({settings.train_max_rows})",
            }
            log.warning(
                "training split has %d rows: train.parquet holds a seeded sample of %d", train_rows, written
            )
        import pyarrow.parquet as pq

        first = next(pq.ParquetFile(staging / paths.train.name).iter_batches(batch_size=1000)).to_pandas()
        spec = {
            **schema.model_dump(mode="json"),
            "example": example_row(first, schema),
            "split": {"train_rows": written, "test_rows": test_rows, **split.model_dump()},
        }
        if sample:
            spec["split"]["train_sample"] = sample
        write_json(staging / paths.features.name, spec)
    log.info("split %d rows: %d train, %d test (seed %d)", rows, train_rows, test_rows, split.seed)
    summary: dict[str, Any] = spec["split"]
    return summary
