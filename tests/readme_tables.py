"""The docs' tables, read as data: the known answers some tests compare the code with."""

from __future__ import annotations

from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def readme_table(header: str) -> list[list[str]]:
    """The rows under the Markdown table (in ``docs/*.md``) whose header line is ``header``: each
    row's cells, stripped."""
    text = next(t for t in (p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md"))) if header in t)
    rows = []
    for line in text[text.index(header) :].splitlines()[2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows
