"""Search's words (server/terms.py): German and English forms meet, and what someone types is
parsed by us, never handed to a database as its own query syntax."""

from __future__ import annotations

import pytest

from server.terms import (
    QUERY_MAX_CHARS,
    QUERY_MAX_WORDS,
    QueryError,
    fts5_match,
    matches,
    parse,
    stem,
    terms,
    tsquery,
)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Zählerstände", "Zählerstand"),
        ("Zählers", "zähler"),
        ("Rechnungen", "Rechnung"),
        ("Stromausfälle", "Stromausfall"),
        ("Straße", "strasse"),
        ("readings", "reading"),
        ("outages", "outage"),
        ("charging", "charges"),
    ],
)
def test_german_and_english_word_forms_share_one_stem(one: str, other: str) -> None:
    assert stem(one) == stem(other)


def test_different_words_keep_different_stems() -> None:
    assert len({stem(w) for w in ("Zähler", "Rechnung", "Strom", "Wasser", "meter", "bill")}) == 6


def test_terms_keep_the_words_in_order_and_drop_what_is_not_a_word() -> None:
    assert terms("Der Zähler — zählt_falsch!  x " + "a" * 41) == "der zahl zahlt falsch x"


def test_words_are_and_ed_a_phrase_is_in_order_minus_leaves_out_or_joins() -> None:
    query = parse('Zähler "smart meter" -Rechnung OR bill')
    assert fts5_match(query) == '("zahl") AND ("smart met") AND ("bill") NOT "rechnung"'
    query = parse("Zähler OR bill -Rechnung")
    assert fts5_match(query) == '("zahl" OR "bill") NOT "rechnung"'
    assert tsquery(query) == "('zahl' | 'bill') & !'rechnung'"
    assert tsquery(parse('"smart meter"')) == "(('smart' <-> 'met'))"


def test_the_word_being_typed_matches_as_itself_or_as_a_beginning() -> None:
    query = parse("Stromausf", typing=True)
    assert fts5_match(query) == '("stromausf" OR "stromausf"*)'
    assert tsquery(query) == "('stromausf' | 'stromausf':*)"
    assert fts5_match(parse("Stromausf ", typing=True)) == '("stromausf")', "a space ends it"
    assert fts5_match(parse("a", typing=True)) == '("a")', "one letter is no beginning"
    assert matches("Stromausfall", query) and not matches("Strom", query)


@pytest.mark.parametrize(
    "text",
    ["NEAR(a b)", "a* ^b", "col:x", '"unbalanced', "a AND b", "a) OR (b", "'; DROP TABLE x; --"],
)
def test_what_a_search_engine_reads_as_operators_is_only_text(text: str) -> None:
    query = parse(text)
    match, ts = fts5_match(query), tsquery(query)
    for operator in ("NEAR(", "^", "*", ":", ";", "--"):
        assert operator not in match, match
    assert all(part.startswith(("(", "'", "!", "&", "|", "<")) for part in ts.split()), ts


def test_nothing_to_look_for_is_an_empty_query() -> None:
    for text in ("", "   ", "-only", '""', "OR", "!!!", "— …"):
        assert not parse(text), text


def test_a_query_too_long_or_with_too_many_words_is_refused_with_the_limit() -> None:
    with pytest.raises(QueryError) as err:
        parse("x" * 10_000)
    assert err.value.params == {"limit": QUERY_MAX_CHARS, "count": 10_000}
    with pytest.raises(QueryError) as err:
        parse(" ".join(f"w{i}" for i in range(QUERY_MAX_WORDS + 1)))
    assert err.value.params == {"limit": QUERY_MAX_WORDS}
    assert parse(" ".join(f"w{i}" for i in range(QUERY_MAX_WORDS)))
