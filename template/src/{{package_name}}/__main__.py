"""`python -m <package>` runs the CLI."""

from .cli import app

app()
