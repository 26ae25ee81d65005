"""Update-only task: say when params.yaml no longer matches the answers.

`params.yaml` holds the values a user tuned, so `copier update` never overwrites it
(`_skip_if_exists`). When an update changes the `dataset` or `engine` answer, the rest of the
project follows the new answer but params.yaml still describes the old one. This task compares
the two and prints exactly what to edit. It never changes a file and never fails the update.

Usage: check_params.py <dataset> <engine> <source> <name>   (run from the project folder)

copier.yml's `_tasks` entry computes <source> (the data.source the dataset answer implies) and
<name> (the data.name of a built-in dataset; empty for the user's own CSV) from its `datasets`
table, so this script keeps no list of datasets that could drift from it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml


def problems(params: dict, dataset: str, engine: str, source: str, name: str = "") -> list[str]:
    """What in `params` disagrees with the answers, each with the edit that fixes it.

    `source` is the data.source the dataset answer implies; `name`, when not empty, the data.name
    it implies (built-in datasets only: the user's own CSV may be named anything).
    """
    found = []
    data = params.get("data") or {}
    if data.get("source") != source:
        found.append(
            f"data.source is {data.get('source')!r} but the dataset answer is {dataset!r}: "
            f"set data.source to {source!r}" + (f" and data.name to {name!r}" if name else "")
        )
    elif name and data.get("name") != name:
        found.append(f"data.name is {data.get('name')!r}: set it to {name!r}")
    if params.get("engine") != engine:
        found.append(f"engine is {params.get('engine')!r}: set it to {engine!r}")
    if engine == "spark" and "spark" not in params:
        found.append("there is no spark: section: copy it from docs/spark.md")
    return found


def main(argv: list[str]) -> int:
    dataset, engine, source, name = argv
    path = Path("params.yaml")
    if not path.is_file():
        return 0
    try:
        params = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        print(f"mlfolio: params.yaml is not valid YAML ({error}); fix it, then run make pipeline.")
        return 0
    found = problems(params, dataset, engine, source, name)
    if found:
        print("mlfolio: params.yaml was kept as you left it, and no longer matches your answers:")
        for problem in found:
            print(f"  - {problem}")
        print("  Edit params.yaml (docs/updating.md explains why it is never overwritten).")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
