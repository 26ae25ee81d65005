"""Reading the raw CSV the way `data.io.read_csv` does, and writing Parquet, with Spark.

The raw file is read as text (every column a string), its "no value" tokens become nulls, and each
record gets its position in the file, so that quarantined rows carry the same `source_row` as in
the pandas engine. Outputs are single Parquet files, as the pandas engine writes them: the
executors write part files in parallel and the driver appends them, a row group at a time.
"""

from __future__ import annotations

import codecs
import csv
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..data.io import NA_VALUES, CsvFormat, DataError, atomic_path, detect_format

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

log = logging.getLogger(__name__)

ROW = "_row"  # a record's 0-based position in the file, counting the header (and any `sep=` line)
CORRUPT = "_corrupt_record"
PARTITION_SHIFT = 33  # monotonically_increasing_id(): the partition index sits above bit 33
PART_ROW_GROUP_BYTES = 16 * 1024 * 1024  # row groups of the part files the driver stitches
STITCH_BATCH_ROWS = 65_536  # rows the driver holds at once while stitching
# pandas' own "no value" tokens (read_csv's keep_default_na), on top of the project's NA_VALUES.
PANDAS_NA_VALUES = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
)  # fmt: skip
NA_TOKENS = sorted(set(PANDAS_NA_VALUES) | set(NA_VALUES))
JAVA_CHARSETS = {"utf-8-sig": "UTF-8", "utf-8": "UTF-8", "utf-16": "UTF-16", "latin-1": "ISO-8859-1"}


@dataclass(frozen=True)
class RawTable:
    """The raw file in Spark: `frame` has ROW and one text column per CSV column (`_c0`, `_c1`, ...)."""

    frame: DataFrame
    columns: list[str]
    rows: int
    format: CsvFormat

    def column(self, name: str) -> Column:
        """The text column of CSV column `name`."""
        from pyspark.sql import functions as F

        return F.col(self.internal(name))

    def internal(self, name: str) -> str:
        # Positional names keep Spark away from dots, spaces and backticks in users' headers.
        return f"_c{self.columns.index(name)}"

    @property
    def first_row(self) -> int:
        """The file row number of the first data record, the header being row 1 (as pandas counts)."""
        return 2 + self.format.skip_rows


def header_names(path: Path, fmt: CsvFormat) -> list[str]:
    """The column names as pandas reads them: stripped, 'Unnamed: i' for blanks, 'a.1' for repeats."""
    with path.open(encoding=fmt.encoding, newline="") as handle:
        reader = csv.reader(handle, delimiter=fmt.delimiter, skipinitialspace=True)
        for _ in range(fmt.skip_rows):
            next(reader, None)
        header = next(reader, None)
    if not header:
        raise DataError(f"{path} has no header row; the first line must name the columns.")
    names: list[str] = []
    for position, name in enumerate(header):
        name = name or f"Unnamed: {position}"
        base, repeat = name, 0
        while name in names:
            repeat += 1
            name = f"{base}.{repeat}"
        names.append(name)
    names = [name.strip() for name in names]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DataError(
            f"{path} has duplicate column names ({', '.join(repeated)}); rename them in the file."
        )
    return names


def _java_charset(encoding: str) -> str:
    name = codecs.lookup(encoding).name
    return JAVA_CHARSETS.get(encoding.lower(), JAVA_CHARSETS.get(name, name))


def read_raw(spark: SparkSession, path: Path, encoding: str | None) -> RawTable:
    """The raw CSV as text columns with null for "no value", each record numbered; raises DataError."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    fmt = detect_format(path, encoding)  # the pandas engine's checks: empty, gzip, binary, not UTF-8
    columns = header_names(path, fmt)
    internal = [f"_c{i}" for i in range(len(columns))]
    schema = StructType([StructField(name, StringType()) for name in [*internal, CORRUPT]])
    charset = _java_charset(fmt.encoding)
    frame = (
        spark.read.schema(schema)
        .options(
            header=False,
            sep=fmt.delimiter,
            encoding=charset,
            quote='"',
            escape='"',
            ignoreLeadingWhiteSpace=True,  # pandas: skipinitialspace=True
            ignoreTrailingWhiteSpace=False,
            mode="PERMISSIVE",
            columnNameOfCorruptRecord=CORRUPT,
            multiLine=charset == "UTF-16",  # a multi-byte line separator cannot be split on
        )
        .csv(str(path))
        .withColumn("_id", F.monotonically_increasing_id())
    )
    header_records = 1 + fmt.skip_rows
    partition = F.shiftright("_id", PARTITION_SHIFT)
    # A record with more fields than the header: pandas refuses the file, so does this engine.
    too_long = F.col(CORRUPT).isNotNull() & F.col(internal[-1]).isNotNull()
    counts = (
        frame.groupBy(partition.alias("p"))
        .agg(F.count(F.lit(1)).alias("n"), F.min(F.when(too_long, F.col("_id"))).alias("bad"))
        .collect()
    )
    sizes = {row.p: row.n for row in counts}
    offsets, total = [], 0
    for index in range(max(sizes, default=-1) + 1):
        offsets.append(total)
        total += sizes.get(index, 0)
    position = F.element_at(F.array(*[F.lit(o) for o in offsets or [0]]), (partition + 1).cast("int")) + (
        F.col("_id") - F.shiftleft(partition, PARTITION_SHIFT)
    )
    bad = [row.bad for row in counts if row.bad is not None]
    if bad:
        first_bad = min(bad)
        index = offsets[first_bad >> PARTITION_SHIFT] + (
            first_bad - ((first_bad >> PARTITION_SHIFT) << PARTITION_SHIFT)
        )
        if index >= header_records:
            raise DataError(
                f"{path} could not be parsed as CSV (row {index + 1} has more fields than the header's "
                f"{len(columns)}); check that every row has the same number of fields as the header "
                "and that quotes are balanced."
            )
    rows = total - header_records
    if rows <= 0:
        raise DataError(f"{path} has a header but no data rows; add rows to the file.")
    text = [F.when(F.col(c).isin(NA_TOKENS), F.lit(None)).otherwise(F.col(c)).alias(c) for c in internal]
    table = frame.select(position.alias(ROW), *text).where(F.col(ROW) >= header_records)
    return RawTable(frame=table, columns=columns, rows=rows, format=fmt)


def write_parquet_file(frame: DataFrame, target: Path, scratch: Path) -> int:
    """Write `frame` as one Parquet file (what pandas, DVC and checksums expect); return its rows.

    The executors write part files in parallel, in row groups of at most PART_ROW_GROUP_BYTES; the
    driver then appends them to one file in part order (the row order of a sorted `frame`), one
    batch of STITCH_BATCH_ROWS rows at a time. Its memory therefore stays the same however many
    rows the table has: Spark's default row groups (128 MB) would grow with the partitions.
    """
    import pyarrow.parquet as pq

    parts_folder = scratch / f"{target.name}.parts"
    frame.write.mode("overwrite").option("parquet.block.size", PART_ROW_GROUP_BYTES).parquet(
        str(parts_folder)
    )
    parts = sorted(parts_folder.glob("part-*.parquet"))  # part-00000-<uuid>.snappy.parquet, ...
    rows = 0
    with atomic_path(target) as tmp:
        schema = pq.read_schema(parts[0])
        with pq.ParquetWriter(tmp, schema) as writer:
            for part in parts:
                for batch in pq.ParquetFile(part).iter_batches(batch_size=STITCH_BATCH_ROWS):
                    writer.write_batch(batch, row_group_size=STITCH_BATCH_ROWS)
                    rows += batch.num_rows
    shutil.rmtree(parts_folder)
    return rows


def parquet_rows(path: Path) -> int:
    """Rows in a Parquet file, from its metadata (no row is read)."""
    import pyarrow.parquet as pq

    rows: int = pq.ParquetFile(path).metadata.num_rows
    return rows
