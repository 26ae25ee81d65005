"""Copy-only task: copy the user's folder of class folders into the new project.

They go to data/external/images/, versioned by DVC. The import is the generated package's
`images/external.py` (standard library only), loaded from the new project by its file path, so
the project's own code and this task share one implementation. Quick, idempotent, and it never
fails the copy: a missing folder gets a message saying how to import it later.

Usage (run by Copier in the new project's folder): import_images.py PACKAGE LOCAL_IMAGE_DIR
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def main(package: str, folder: str) -> int:
    path = Path("src") / package / "images" / "external.py"
    spec = importlib.util.spec_from_file_location(f"_mlfolio_{package}_images_external", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    try:
        counts = module.import_folder(Path(folder), Path.cwd())
    except (OSError, ValueError) as exc:
        print(
            f"mlfolio: could not copy your images into the project ({exc}). When you have them, "
            f"run 'uv run {package} import-images FOLDER' in the project "
            f"(they go to {module.IMAGES_DIR})."
        )
        return 0
    print(
        f"mlfolio: copied {sum(counts.values())} files in {len(counts)} classes from {folder} to "
        f"{module.IMAGES_DIR}; DVC versions them (data/external.dvc)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
