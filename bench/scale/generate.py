"""The benchmark's data: synthetic customers, written in chunks (memory does not grow with rows).

    python bench/scale/generate.py 1000000 customers-1M.csv

About 20 columns: an id, 12 numbers (ages, incomes with a long tail, counts, scores), 6 text
categories (up to 40 levels), a yes/no flag and a 3-class target that the numbers explain in part.
A few percent of values are missing, and about 1% of rows are bad on purpose: typos in a number,
impossible balances, infinities, missing targets and exact repeats of the row before. The same
seed gives the same file. Needs numpy and pandas (run it with a generated project's Python).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

CHUNK_ROWS = 250_000
REGIONS = ["north", "south", "east", "west", "central", "coast", "islands", "mountains"]
CITIES = [f"city_{i:02d}" for i in range(40)]
OCCUPATIONS = [f"job_{i:02d}" for i in range(20)]


def synthetic_chunk(rng: np.random.Generator, start: int, rows: int) -> pd.DataFrame:
    """`rows` customers: 12 numbers, 6 categories, a yes/no flag, an id and a 3-class target."""
    age = rng.integers(18, 90, rows)
    income = np.round(rng.lognormal(10.5, 0.6, rows), 2)
    tenure = rng.integers(0, 240, rows)
    visits = rng.poisson(4, rows)
    spend = np.round(rng.gamma(2.0, 60.0, rows), 2)
    balance = np.round(rng.normal(1500, 900, rows), 2)
    scores = rng.normal(0, 1, (rows, 5)).round(4)
    ratio = rng.beta(2, 5, rows).round(4)
    region = rng.choice(REGIONS, rows)
    channel = rng.choice(["web", "store", "phone", "partner"], rows, p=[0.5, 0.3, 0.15, 0.05])
    plan = rng.choice(["basic", "plus", "premium"], rows, p=[0.6, 0.3, 0.1])
    device = rng.choice(["ios", "android", "windows", "mac", "linux"], rows)
    city = rng.choice(CITIES, rows)
    occupation = rng.choice(OCCUPATIONS, rows)
    newsletter = rng.choice(["yes", "no"], rows, p=[0.3, 0.7])
    score = (
        0.02 * (age - 54) + 0.8 * (np.log(income) - 10.5)
        + 0.01 * (tenure - 120) + 0.15 * (visits - 4)
        + 0.6 * scores[:, 0] - 0.4 * scores[:, 1]
        + 0.8 * (plan == "premium") - 0.5 * (channel == "partner")
        + rng.normal(0, 0.6, rows)
    )  # fmt: skip
    target = np.where(score > 0.6, "loyal", np.where(score < -0.6, "churn", "steady"))
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(start, start + rows),
            "age": age,
            "income": income,
            "tenure_months": tenure,
            "visits_30d": visits,
            "spend_30d": spend,
            "balance": balance,
            **{f"score_{c}": scores[:, i] for i, c in enumerate("abcde")},
            "ratio": ratio,
            "region": region,
            "channel": channel,
            "plan": plan,
            "device": device,
            "city": city,
            "occupation": occupation,
            "newsletter": newsletter,
            "segment": target,
        }
    ).astype("str")
    # Realistic gaps: a few percent missing in some columns.
    for column, share in (
        ("income", 0.05),
        ("spend_30d", 0.03),
        ("score_c", 0.02),
        ("device", 0.04),
        ("city", 0.02),
    ):
        frame.loc[rng.random(rows) < share, column] = ""
    # About 1% bad rows: typos, impossible values, infinities, missing targets, repeated rows.
    bad = rng.random(rows)
    frame.loc[bad < 0.003, "age"] = "n/a-ish"
    frame.loc[(bad >= 0.003) & (bad < 0.005), "balance"] = "9e12"
    frame.loc[(bad >= 0.005) & (bad < 0.006), "spend_30d"] = "inf"
    frame.loc[(bad >= 0.006) & (bad < 0.007), "segment"] = ""
    repeat = np.flatnonzero((bad >= 0.007) & (bad < 0.010))
    repeat = repeat[repeat > 0]
    frame.iloc[repeat] = frame.iloc[repeat - 1].to_numpy()  # an exact copy of the row before
    return frame


def write_dataset(path: Path, rows: int, seed: int = 7) -> None:
    """Write the CSV in chunks (the generator's memory does not grow with rows)."""
    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".part")
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        for start in range(0, rows, CHUNK_ROWS):
            chunk = synthetic_chunk(rng, start, min(CHUNK_ROWS, rows - start))
            chunk.to_csv(handle, index=False, header=start == 0)
    tmp.replace(path)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python generate.py ROWS OUT.csv")
    write_dataset(Path(sys.argv[2]), int(sys.argv[1]))
