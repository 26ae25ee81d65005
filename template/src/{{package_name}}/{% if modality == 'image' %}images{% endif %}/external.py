"""Bring your own images: copy a folder of class folders into data/external/images/.

The copy is versioned by DVC (data/external.dvc, shared with tabular projects' own data), so the
project never depends on a path that exists only on this machine. The copy replaces the previous
one only when it is complete. Standard library only: the copy-time task (hooks/import_images.py)
loads this file by its path before anything is installed.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

IMAGES_DIR = "data/external/images"


def _external() -> object:
    """data/external.py of this project (its DVC tracking), imported as a module or by file path."""
    if __package__:
        from ..data import external

        return external
    import importlib.util

    path = Path(__file__).parents[1] / "data" / "external.py"
    spec = importlib.util.spec_from_file_location("_external", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def import_folder(source: Path, root: Path) -> dict[str, int]:
    """Copy every class folder of `source` into data/external/images/; return the files per class."""
    source = source.expanduser().resolve()
    if not source.is_dir():
        raise ValueError(f"{source} is not a folder; point at the folder that holds one subfolder per class")
    classes = sorted(p for p in source.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise ValueError(
            f"{source} has no class folders; put each class's images in a folder named after the class"
        )
    target = root / IMAGES_DIR
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".images.", dir=target.parent))
    try:
        counts = {}
        for folder in classes:
            shutil.copytree(folder, staging / folder.name, ignore=shutil.ignore_patterns(".*"))
            counts[folder.name] = sum(1 for p in (staging / folder.name).rglob("*") if p.is_file())
        (staging / ".origin.json").write_text(
            json.dumps({"original": str(source), "files": counts}, indent=2) + "\n", encoding="utf-8"
        )
        if target.exists():
            shutil.rmtree(target)
        staging.replace(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _external().track(root)  # type: ignore[attr-defined]
    return counts
