"""Text from outside (image names, model paths, strings in a results file) made safe for a terminal.

An escape sequence in a file name can recolour, move or clear a terminal, and a right-to-left
override can make ``gpj.exe`` read as ``exe.jpg``; both are shown as visible escapes instead.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean_text(text: str) -> str:
    """``text`` with control characters (newlines and tabs kept) and bidirectional overrides escaped."""
    return _UNSAFE.sub(
        lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text
    )
