"""The README's tables, read as data: the known answers some tests compare the code with."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_table(header: str) -> list[list[str]]:
    """The rows under the Markdown table whose header line is ``header``: each row's cells, stripped."""
    text = README.read_text(encoding="utf-8")
    rows = []
    for line in text[text.index(header) :].splitlines()[2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows
