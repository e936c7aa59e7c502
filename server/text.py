"""Rules for one-line text people type: names, titles, labels."""

from __future__ import annotations

import re

# Unicode's control characters (category Cc): NUL, tab, line breaks, escape, DEL and the C1
# range. Format characters stay allowed: an emoji such as 👨‍🔧 is joined by one (U+200D).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def has_control_character(text: str) -> bool:
    """Tell whether text holds a control character (never wanted in one line of text)."""
    return _CONTROL.search(text) is not None


def without_control_characters(text: str) -> str:
    """Return text with its control characters removed (for labels shown in a list)."""
    return _CONTROL.sub("", text)
