# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Exploring the data
#
# This notebook reads what the pipeline prepared through the project's own package: the same
# paths, parameters and schema the pipeline stages use, so what you see here is what the model
# sees. Run `make pipeline` first, then run the notebook top to bottom (in VS Code, or with
# `uv run --with jupyterlab jupyter lab`).
#
# Each section says what to look for and what to write. Write your findings in the cell under
# each plot, then carry the conclusions into the README (*Data*) and into `params.yaml` (for
# example `clean.column_types` when a column was given the wrong type).
#
# Outputs are stripped on commit (nbstripout), and `01-exploration.py` is this notebook as a
# script (jupytext), so a review reads code, not JSON.

# %%
# %matplotlib inline
import importlib
import tomllib
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display
from matplotlib.ticker import MaxNLocator

# The project's own package, found by the name pyproject.toml gives it.
ROOT = next(folder for folder in (Path.cwd(), *Path.cwd().parents) if (folder / "params.yaml").is_file())
pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PACKAGE = pyproject["project"]["name"].replace("-", "_")
config = importlib.import_module(f"{PACKAGE}.config")
data_io = importlib.import_module(f"{PACKAGE}.data.io")
data_schema = importlib.import_module(f"{PACKAGE}.data.schema")
data_rules = importlib.import_module(f"{PACKAGE}.data.rules")

paths = config.get_paths(ROOT)
params = config.load_params(paths.params)
schema = data_schema.DatasetSchema.model_validate(data_io.read_json(paths.schema))
quality = data_io.read_json(paths.data_quality)
clean = pd.read_parquet(paths.clean)
quarantine = pd.read_csv(paths.quarantine, dtype="str")

target = schema.target.name
is_classifier = schema.target.task == "classification"
numeric = [name for name in schema.numeric if name in clean.columns]
categorical = [name for name in schema.categorical if name in clean.columns]
print(
    f"{params.data.name}: {quality['rows_in']} rows in, {len(clean)} clean, {len(quarantine)} quarantined; "
    f"target '{target}' ({schema.target.task}); {len(numeric)} numeric and {len(categorical)} categorical features."
)


def figure_grid(count: int, columns: int = 3) -> tuple[plt.Figure, list[plt.Axes]]:
    """A grid of `count` small plots, at most `columns` wide, with the unused cells hidden."""
    columns = min(columns, count)
    rows = -(-count // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(4.2 * columns + 1.5, 3.0 * rows), squeeze=False, layout="constrained"
    )
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:count])


# %% [markdown]
# ## 1. Schema and missing values
#
# The clean stage inferred a type for every column and checked each row against it.
#
# **Look for**: a code read as a number (zip codes, IDs), a number read as a category, a dropped
# column that matters, a kept column that leaks the target (it is only known after the fact), and
# columns with many missing values.
#
# **Write**: which types you pinned in `params.yaml` (`clean.column_types`, `clean.drop_columns`)
# and why; whether the missing values look random or tell a story (missing for one group only?).

# %%
columns = pd.DataFrame(
    [
        {
            "column": column.name,
            "kind": column.kind,
            "accepted values": (
                ", ".join(column.categories)
                if column.categories
                else f"{column.minimum:.6g} to {column.maximum:.6g}"
                if column.minimum is not None and column.maximum is not None
                else "any"
            ),
        }
        for column in schema.features
    ]
).set_index("column")
missing = pd.DataFrame(
    {
        "missing (raw)": pd.Series(quality["missing_values"], dtype="int64"),
        "missing (clean)": clean.isna().sum(),
    }
)
missing = missing.fillna(0).astype("int64")
missing["share (clean)"] = (missing["missing (clean)"] / len(clean)).round(3)
display(columns.join(missing, how="left"))
for name, reason in schema.dropped.items():
    print(f"dropped '{name}': {reason}")

has_missing = missing["missing (raw)"][missing["missing (raw)"] > 0].sort_values()
if has_missing.empty:
    print("No missing values in the raw data.")
else:
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(has_missing) + 1.2))
    (100 * has_missing / quality["rows_in"]).plot.barh(ax=ax, color="tab:orange")
    ax.set_xlabel("% of raw rows missing a value")
    ax.set_title("Missing values per column")
    plt.show()

# %% [markdown]
# *Your notes on the schema and the missing values.*

# %% [markdown]
# ## 2. The target
#
# **Look for**: in a classification, how unequal the classes are: accuracy flatters a model on
# imbalanced classes, and a rare class may have only a handful of rows in the test split. In a
# regression, the shape: a long tail or a few extreme values dominate squared errors.
#
# **Write**: how balanced the target is, and whether the metric the model is judged by
# (`train.primary_metric` in `params.yaml`) suits that.

# %%
fig, ax = plt.subplots(figsize=(7, 3.5))
if is_classifier:
    counts = clean[target].value_counts().sort_index()
    counts.plot.bar(ax=ax, color="tab:blue", rot=0)
    ax.bar_label(ax.containers[0])
    ax.margins(y=0.12)
    ax.set_ylabel("rows")
    print(f"largest class / smallest class: {counts.max() / counts.min():.1f}")
else:
    ax.hist(clean[target].dropna(), bins=30, color="tab:blue")
    ax.set_xlabel(target)
    ax.set_ylabel("rows")
    display(clean[target].describe().to_frame().T.round(3))
ax.set_title(f"Target: {target}")
plt.show()
print(f"primary metric: {params.train.primary_metric}")

# %% [markdown]
# *Your notes on the target.*

# %% [markdown]
# ## 3. Distributions
#
# Numeric features as histograms (one colour per class in a classification), categorical
# features as counts.
#
# **Look for**: skew and outliers (would a log scale or clipping help?), impossible values that
# passed validation (a negative weight, an age of 200), rare categories, and features that
# separate the classes on their own: plausible, or a leak?
#
# **Write**: the features you expect to matter most and why; any value you want the clean stage
# to reject (tighten the ranges in `params.yaml`).

# %%
if numeric:
    fig, axes = figure_grid(len(numeric))
    for ax, name in zip(axes, numeric, strict=True):
        values = clean[name].dropna()
        bins, width = np.histogram_bin_edges(values, bins=25), None  # the same bins for every class
        if values.nunique() <= 20 and values.max() - values.min() <= 50 and (values == values.round()).all():
            bins, width = np.arange(values.min() - 0.5, values.max() + 1.5), 0.8  # one bar per whole number
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if is_classifier:
            for label, group in clean.groupby(target)[name]:
                ax.hist(group.dropna(), bins=bins, rwidth=width, alpha=0.55, label=str(label))
        else:
            ax.hist(values, bins=bins, rwidth=width, color="tab:blue")
        ax.set_title(name)
    if is_classifier:
        fig.legend(*axes[0].get_legend_handles_labels(), title=target, loc="outside right upper")
    fig.suptitle("Numeric features")
    plt.show()
    display(clean[numeric].describe().T.round(3))

if categorical:
    fig, axes = figure_grid(len(categorical))
    for ax, name in zip(axes, categorical, strict=True):
        top = clean[name].value_counts().index[:15]  # the 15 most common categories
        shown = clean[clean[name].isin(top)]
        if is_classifier:
            pd.crosstab(shown[name], shown[target]).plot.barh(stacked=True, ax=ax, legend=False)
        else:
            shown[name].value_counts().sort_values().plot.barh(ax=ax, color="tab:blue")
        ax.set_title(name)
        ax.set_ylabel("")
    if is_classifier:
        fig.legend(*axes[0].get_legend_handles_labels(), title=target, loc="outside right upper")
    fig.suptitle("Categorical features")
    plt.show()

# %% [markdown]
# *Your notes on the distributions.*

# %% [markdown]
# ## 4. Correlations
#
# Spearman (rank) correlation between the numeric features, and the target in a regression: it
# catches any monotonic relation and is not thrown off by outliers.
#
# **Look for**: pairs that move together (|r| above about 0.8): the model gets the same
# information twice and the importance is split between them. In a regression, features that
# track the target closely.
#
# **Write**: which features are redundant (candidates for `clean.drop_columns`), and whether a
# correlation with the target is too good to be true.

# %%
correlated = numeric + ([] if is_classifier else [target])
if len(correlated) < 2:
    print("Fewer than two numeric columns: nothing to correlate.")
else:
    corr = clean[correlated].corr(method="spearman")
    size = min(2.0 + 0.6 * len(correlated), 14.0)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(corr, cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(len(correlated)), corr.columns, rotation=45, ha="right")
    ax.set_yticks(range(len(correlated)), corr.columns)
    if len(correlated) <= 12:
        for (row, col), value in np.ndenumerate(corr.to_numpy()):
            colour = "white" if abs(value) > 0.6 else "black"
            ax.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize="small", color=colour)
    fig.colorbar(image, ax=ax, shrink=0.8, label="Spearman r")
    ax.set_title("Correlations")
    plt.show()
    upper = corr.where(np.triu(np.ones(corr.shape, dtype=bool), k=1)).stack()
    strongest = upper.reindex(upper.abs().sort_values(ascending=False).index).head(10)
    display(strongest.round(3).rename("Spearman r").to_frame())

# %% [markdown]
# *Your notes on the correlations.*

# %% [markdown]
# ## 5. Quarantined rows
#
# The clean stage never drops a row silently: a row that fails validation goes to
# `data/interim/quarantine.csv` with the reasons it failed.
#
# **Look for**: reasons that repeat (a systematic problem: another unit, a sentinel such as -999,
# a category that appeared later), and rejected rows that are in fact valid (the inferred range or
# type is too strict: widen it in `params.yaml`).
#
# **Write**: how many rows were rejected and why, and what you changed, or why the rejections
# are right.

# %%
print(
    f"{quality['rows_quarantined']} of {quality['rows_in']} rows quarantined "
    f"({quality['duplicates_removed']} of them duplicates)."
)
if quarantine.empty:
    print("No row was rejected: every row passed validation.")
else:
    reasons = pd.Series(quality["quarantine_reasons"], name="rows").sort_values()
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(reasons) + 1.2))
    reasons.plot.barh(ax=ax, color="tab:red")
    ax.set_xlabel("rows")
    ax.set_title("Why rows were quarantined")
    plt.show()
    reason_first = [data_rules.ROW_COLUMN, data_rules.REASON_COLUMN]
    rejected = quarantine[reason_first + [c for c in quarantine.columns if c not in reason_first]]
    display(rejected.set_index(data_rules.ROW_COLUMN).head(20))

# %% [markdown]
# *Your notes on the quarantined rows.*

# %% [markdown]
# ## What I found
#
# Replace these prompts with your conclusions; they belong in the README's *Data* section too.
#
# - **The data**: where it comes from, how many rows, what one row is.
# - **Types and missing values**: what you pinned in `params.yaml`, and why.
# - **The target**: its balance or shape, and the metric that suits it.
# - **Features to watch**: the strongest, the redundant, the suspicious.
# - **Rejected rows**: how many, why, and what you did about them.
