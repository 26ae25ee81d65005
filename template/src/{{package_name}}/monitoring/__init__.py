"""Drift monitoring: is the model still asked the kind of questions it was trained on?

- `reference.py`: the training reference, a small profile of each feature (quantile bins, a sorted
  sample, missing share, plausible range) and of the predictions, written by the train stage to
  `models/reference.json` beside the model it describes;
- `drift.py`: PSI, the KS test and the missing and out-of-range shares of a window of rows against
  that reference, on numpy and scipy;
- `window.py`: the rows to check: a CSV or Parquet file, or the latest rows of the API's prediction log;
- `report.py`: `reports/monitoring.json`, `reports/MONITORING.md` with a plot per drifted feature.

`uv run <package> monitor [INPUT]` runs them (cli.py) and exits 3 when something drifted.

Why not Evidently: 0.7.23 adds 636 MB to the environment and does not import beside pandas 3.1
(an ImportError in its dtype helpers). The statistics needed here are a few lines of numpy and
scipy, tested against figures computed by hand (tests/monitoring/).
"""
