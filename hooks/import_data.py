"""Copy-only task: copy the user's CSV into the new project, so that the project owns its data.

The file goes to data/external/ with its original path and sha256 in data/external/origin.json,
and data/external.dvc is written for DVC to version the folder (the first `dvc repro` hashes and
caches it; `dvc push` shares it). The project then depends on its own copy, never on a path that
exists only on this machine, so a clone runs after `dvc pull`.

The import itself is the generated package's `data/external.py` (standard library only), loaded
from the new project by its file path: the project's `import-data` command and this task share
one implementation. Quick, idempotent, and it never fails the copy: a missing file gets a message
saying how to import it later.

Usage (run by Copier in the new project's folder): import_data.py PACKAGE LOCAL_CSV_PATH
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def _load_external(package: str) -> ModuleType:
    path = Path("src") / package / "data" / "external.py"
    spec = importlib.util.spec_from_file_location(f"_mlfolio_{package}_external", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def main(package: str, csv_path: str) -> int:
    external = _load_external(package)
    root = Path.cwd()
    name = external.file_name(csv_path)
    try:
        imported = external.import_file(Path(csv_path), root, name)
    except (OSError, ValueError) as exc:
        print(
            f"mlfolio: could not copy your CSV into the project ({exc}). When you have it, run "
            f"'uv run {package} import-data PATH' in the project (it goes to "
            f"{external.EXTERNAL_DIR}/{name}, where params.yaml expects it)."
        )
        return 0
    print(
        f"mlfolio: copied {imported.original} to {imported.file}; DVC versions it "
        f"({external.DVC_FILE}), so 'dvc push' shares it with the rest of the project."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
