"""Words as search finds them: one stem per word, the same for what is stored and what is asked.

Posts are written in German and English, often both in one thread, and nobody tells us which.
Every word is stemmed by the English Snowball stemmer, with and without the German one first
(PyStemmer), keeps the shorter stem, and is folded to lower-case ASCII where it has an accent:
"Zählerstände", "Zählerstand" and "zählerstand" meet, as do "readings", "read", "estimated" and
"estimate". German participles ("getauscht") keep their own stem, as in Snowball. Both databases
index the same stems (a column beside the text: SQLite FTS5, PostgreSQL tsvector), so they find
the same rows; only ranking differs.

A query is parsed here, never handed to a database's own syntax: words (all must match),
"a phrase", -excluded words, OR between two alternatives, and the last word as a prefix while
someone is still typing it. Anything else a search engine might read as an operator is just
text (`*`, `^`, `:`, `NEAR`, brackets).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

import Stemmer

from server.i18n import N_

WORD_RE = re.compile(r"[^\W_]+")  # letters and digits; "_" separates, as in both engines
WORD_MAX_CHARS = 40  # longer "words" are hashes and base64: nobody searches for them
QUERY_MAX_CHARS = 200  # a search longer than a sentence is a paste, not a question
QUERY_MAX_WORDS = 12
PREFIX_MIN_CHARS = 2  # "a*" would match half the index

_german = Stemmer.Stemmer("german")
_english = Stemmer.Stemmer("english")


def fold(word: str) -> str:
    """Return a word in lower case without accents (ß stays ss): how both indexes store it."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Return the stem search stores for one word: the shorter of its English stem and the
    English stem of its German stem (each language strips its own endings), folded. Cached:
    a thread repeats its words."""
    lower = word.lower()
    english = _english.stemWord(lower)
    both = (fold(_english.stemWord(_german.stemWord(lower))), fold(english))
    return min(both, key=lambda s: (len(s), s))


def words(text: str) -> list[str]:
    """Return the words of a text, in order, without the ones too long to be words."""
    return [w for w in WORD_RE.findall(text) if len(w) <= WORD_MAX_CHARS]


def terms(text: str) -> str:
    """Return what the index stores for a text: its words' stems, space-separated, in order
    (phrases are found by position)."""
    return " ".join(stem(w) for w in words(text))


class QueryError(ValueError):
    """A query or filter that cannot be searched for: a sentence (N_) saying why, and its
    values, translated where it is shown (server/i18n.py localize)."""

    def __init__(self, template: str, **params: object) -> None:
        super().__init__(template.format(**params))
        self.template = template
        self.params = params


@dataclass(frozen=True)
class Clause:
    """One part of a query: one stem, or several in a row (a phrase); `prefix`: the stem of
    the last word while it is being typed (the folded word itself, matched as a beginning)."""

    stems: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True)
class Query:
    """A parsed query: every group must match (a group matches if any of its clauses does),
    and no excluded clause may."""

    groups: tuple[tuple[Clause, ...], ...] = ()
    excluded: tuple[Clause, ...] = ()
    words: frozenset[str] = field(default_factory=frozenset)  # stems to highlight
    prefixes: frozenset[str] = field(default_factory=frozenset)  # beginnings to highlight

    def __bool__(self) -> bool:
        return bool(self.groups)


TOKEN_RE = re.compile(r'(-?)"([^"]*)"?|(\S+)')


def parse(text: str, *, typing: bool = False) -> Query:
    """Parse what someone typed. `typing`: the last word may still be incomplete, so it also
    matches as a beginning. Raise QueryError for a query too long to be a question."""
    if len(text) > QUERY_MAX_CHARS:
        raise QueryError(
            N_("Search for at most {limit} characters; this has {count:,}."),
            limit=QUERY_MAX_CHARS, count=len(text),
        )  # fmt: skip
    groups: list[list[Clause]] = []
    excluded: list[Clause] = []
    join_next = added = False
    tokens = list(TOKEN_RE.finditer(text.strip()))
    for index, token in enumerate(tokens):
        negate, quoted, bare = token.group(1), token.group(2), token.group(3)
        if bare == "OR":
            join_next = added  # "-a OR b" means nothing: b is then just another word
            continue
        if bare is not None and bare.startswith("-") and len(bare) > 1:
            negate, bare = "-", bare[1:]
        found = words(quoted if quoted is not None else bare or "")
        if not found:
            continue
        last = index == len(tokens) - 1 and quoted is None and not text.endswith(" ")
        found_groups = _groups(found, phrase=quoted is not None, prefix=typing and last)
        added = not negate
        if negate:
            excluded.extend(clause for group in found_groups for clause in group[:1])
            join_next = False
            continue
        if join_next and found_groups:
            groups[-1].extend(found_groups.pop(0))
            join_next = False
        groups.extend(found_groups)
    if len(groups) + len(excluded) > QUERY_MAX_WORDS:
        raise QueryError(N_("Search for at most {limit} words at once."), limit=QUERY_MAX_WORDS)
    highlight = {s for group in groups for clause in group for s in clause.stems}
    prefixes = {c.stems[0] for group in groups for c in group if c.prefix}
    return Query(
        groups=tuple(tuple(group) for group in groups),
        excluded=tuple(excluded),
        words=frozenset(highlight),
        prefixes=frozenset(prefixes),
    )


def _groups(found: list[str], *, phrase: bool, prefix: bool) -> list[list[Clause]]:
    """Return the groups of one token's words: one phrase, or one group per word; a word
    being typed matches as itself or as the beginning of a longer one."""
    if phrase and len(found) > 1:
        return [[Clause(tuple(stem(w) for w in found))]]
    groups = [[Clause((stem(w),))] for w in found]
    beginning = fold(found[-1])
    if prefix and len(beginning) >= PREFIX_MIN_CHARS:
        groups[-1].append(Clause((beginning,), prefix=True))
    return groups


def fts5_match(query: Query) -> str:
    """Return the query in SQLite FTS5's MATCH syntax (every stem quoted: no operator of
    FTS5's own can come from what someone typed)."""
    groups = ["(" + " OR ".join(_fts5(c) for c in group) + ")" for group in query.groups]
    text = " AND ".join(groups)
    for clause in query.excluded:
        text += f" NOT {_fts5(clause)}"
    return text


def _fts5(clause: Clause) -> str:
    quoted = '"' + " ".join(clause.stems) + '"'
    return quoted + "*" if clause.prefix else quoted


def tsquery(query: Query) -> str:
    """Return the query as PostgreSQL tsquery text for `to_tsquery('simple', …)` (every stem
    quoted as a lexeme)."""
    groups = ["(" + " | ".join(_ts(c) for c in group) + ")" for group in query.groups]
    text = " & ".join(groups)
    for clause in query.excluded:
        text += f" & !{_ts(clause)}"
    return text


def _ts(clause: Clause) -> str:
    lexemes = ["'" + s.replace("'", "''") + "'" for s in clause.stems]
    if clause.prefix:
        return lexemes[0] + ":*"
    return "(" + " <-> ".join(lexemes) + ")" if len(lexemes) > 1 else lexemes[0]


def matches(word: str, query: Query) -> bool:
    """Tell whether a word of a text is one the query found (to highlight it)."""
    if len(word) > WORD_MAX_CHARS:
        return False
    if stem(word) in query.words:
        return True
    folded = fold(word)
    return any(folded.startswith(p) for p in query.prefixes)
