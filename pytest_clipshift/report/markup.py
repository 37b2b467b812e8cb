"""The report's HTML building blocks shared by its pages: an embedded image (only a strict-base64 PNG or
JPEG: a results file is untrusted input) and the standalone page around a body."""

from __future__ import annotations

import html
import re
from datetime import datetime, timezone


def _e(x) -> str:
    return html.escape(str(x))


IMAGE_FORMATS = ("png", "jpeg")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def figure_html(
    b64, alt: str, fmt: str = "png", caption: str = "", title: str = "", caption_first: bool = False
) -> str:
    """An embedded image, only when ``fmt`` is an allowed format and ``b64`` is strictly base64."""
    if not b64:
        return ""
    if fmt not in IMAGE_FORMATS or not isinstance(b64, str) or len(b64) % 4 or not _BASE64.fullmatch(b64):
        return f'<p class="notice">{_e(alt)}: image omitted (not a valid base64 PNG or JPEG)</p>'
    cap = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
    hover = f' title="{_e(title)}"' if title else ""
    image = f'<img class="cs-fig" alt="{_e(alt)}"{hover} src="data:image/{fmt};base64,{b64}">'
    return f"<figure>{cap}{image}</figure>" if caption_first else f"<figure>{image}{cap}</figure>"


def html_page(title: str, body: str) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title></head>'
        f'<body style="max-width:1200px;margin:auto;padding:12px"><h1 class="clipshift">{_e(title)}</h1>'
        f'<p class="clipshift">generated {stamp} by pytest-clipshift</p>{body}</body></html>'
    )
