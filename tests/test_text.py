"""One-line text people type: control characters are refused, everything people write is not."""

from __future__ import annotations

import pytest

from server.actions.accounts import clean_name
from server.actions.threads import clean_title
from server.errors import ActionError
from server.text import has_control_character, without_control_characters

WRITTEN = [
    "Jan 👨‍🔧",  # an emoji joined by U+200D (a format character, not a control one)
    "Ölzählerstand\u00ad",  # a soft hyphen
    "Ğ İ ß ŉ",
    "דוד",  # right to left
]
CONTROL = ["a\x00b", "a\x1bb", "a\x7fb", "a\x9fb"]  # NUL, ESC, DEL and the C1 APC


@pytest.mark.parametrize("text", WRITTEN)
def test_what_people_write_is_a_valid_name_and_title(text: str) -> None:
    assert clean_name(text) == text
    assert clean_title(text) == text


@pytest.mark.parametrize("text", CONTROL)
def test_a_control_character_makes_a_name_and_a_title_invalid(text: str) -> None:
    with pytest.raises(ActionError) as name:
        clean_name(text)
    assert name.value.code == "invalid_name"
    with pytest.raises(ActionError) as title:
        clean_title(text)
    assert title.value.code == "invalid_title"


def test_line_breaks_and_tabs_in_a_name_become_spaces_not_errors() -> None:
    assert clean_name("Jan\n\tPetersen\x85Nord") == "Jan Petersen Nord"  # \x85: C1 next line


def test_a_label_keeps_its_text_without_control_characters() -> None:
    assert all(has_control_character(text) for text in CONTROL)
    assert not any(has_control_character(text) for text in WRITTEN)
    assert [without_control_characters(text) for text in CONTROL] == ["ab"] * len(CONTROL)
