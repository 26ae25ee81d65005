"""Copy-only task: make the new project a git repository with one first commit.

`dvc exp` and `copier update` both need a git repository with at least one commit. The task is
idempotent and quick: it skips, with a message, when git is missing or the folder is already
inside a repository, and it never fails the copy.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

COMMIT_MESSAGE = "Initial commit from the mlfolio template"
FALLBACK_IDENTITY = ("mlfolio", "mlfolio@localhost")


def _git(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], check=check, capture_output=True, text=True)


def _has_identity() -> bool:
    name = _git("config", "user.name", check=False).stdout.strip()
    email = _git("config", "user.email", check=False).stdout.strip()
    return bool(name and email)


def main() -> int:
    if shutil.which("git") is None:
        print(
            "mlfolio: git is not installed; skipping 'git init'. Install git, then run "
            "'git init && git add -A && git commit -m \"Initial commit\"' in the project."
        )
        return 0
    if _git("rev-parse", "--is-inside-work-tree", check=False).returncode == 0:
        print("mlfolio: this folder is already inside a git repository; leaving it as it is.")
        return 0
    _git("init", "--quiet", "--initial-branch=main")
    _git("add", "--all")
    identity: list[str] = []
    if not _has_identity():
        # A fresh machine often has no git identity; commit as the template, not as nobody.
        name, email = FALLBACK_IDENTITY
        identity = ["-c", f"user.name={name}", "-c", f"user.email={email}"]
    result = subprocess.run(
        ["git", *identity, "commit", "--quiet", "--no-verify", "-m", COMMIT_MESSAGE],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        print(f"mlfolio: 'git commit' failed ({result.stderr.strip()}); commit by hand when ready.")
        return 0
    print(f"mlfolio: initialised a git repository in {Path.cwd()} with a first commit.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
