"""Search terms: the one tokeniser that both the index and the query use.

Neither SQLite FTS5 nor PostgreSQL has a Korean tokeniser that finds two-syllable words (FTS5's
trigram needs three characters, PostgreSQL's parsers keep ``건강식품을`` as one word), so the add-on
writes its own terms and lets the database match whitespace-separated tokens only:

- text is NFKC-normalised and case-folded; characters of Unicode categories L and N make words,
  everything else separates them;
- a *Hangul segment* is a run of Hangul syllables that may contain whitespace (``건강식품 세미나로``
  is one segment, ``건강식품세미나로``): it becomes every two-syllable window of the segment with the
  spaces removed (``건강 강식 식품 품세 세미 미나 나로``) followed by its last syllable alone (so a
  one-syllable query can match any syllable by prefix). Bigrams across the spaces are what make a
  query written without a space (``건강식품세미나``) find the text written with one;
- any other word (Latin, digits, other scripts) is one lower-cased token, at most
  :data:`MAX_TOKEN` characters (longer ones are dropped).

A query is expanded the same way, but a query word is its own unit (spaces in a query separate
words): a Hangul word of two or more syllables becomes its bigrams, one syllable a prefix match,
and a common particle at the end of a word of three or more syllables is dropped (``세미나로`` →
``세미나``), which only widens the match. EVERY term of the query must be in the story (AND); the
terms need not be adjacent. Positions are not used: on PostgreSQL a phrase (``<->``) makes the
GIN index recheck every candidate by rebuilding its tsvector (hundreds of milliseconds for a
common word over 100,000 stories), while a plain AND is answered by the index alone; both
backends therefore match the same way (bigrams of one word far apart in a story also match —
rare, and only ever more, never fewer results).

A document's ``terms`` are two lines: the title's terms, then the rest (body and tags). The title
line has its own index, which ranks the stories whose title has every query term first.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

#: Longer words are not indexed (PostgreSQL ignores words over 2,047 bytes; nobody searches them).
MAX_TOKEN = 60
#: Terms per document at most (a tsvector is limited to 1 MB and its positions to 16,383; both
#: backends index the same first 16,000 terms, so they answer alike even for a huge story).
MAX_TERMS = 16_000
#: Query words kept (each is an AND condition); more are ignored.
MAX_QUERY_WORDS = 8

_HANGUL_FIRST, _HANGUL_LAST = 0xAC00, 0xD7A3
#: Particles and endings dropped from the end of a query word of three or more syllables.
PARTICLES = ("에서", "으로", "에게", "까지", "부터", "처럼", "보다", "을", "를", "이", "가", "은", "는", "의",
             "에", "로", "와", "과", "도", "만")


def is_hangul(ch: str) -> bool:
    return _HANGUL_FIRST <= ord(ch) <= _HANGUL_LAST


def _is_word_char(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LN"


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").casefold()


def _runs(text: str, *, join_spaces: bool) -> list[tuple[str, str]]:
    """(kind, run) pairs: ``hangul`` segments (spaces removed when ``join_spaces``) and ``word`` runs."""
    out: list[tuple[str, str]] = []
    kind = ""
    buf: list[str] = []
    pending_space = False

    def flush() -> None:
        nonlocal kind, buf
        if buf:
            out.append((kind, "".join(buf)))
        kind, buf = "", []

    for ch in normalise(text):
        if is_hangul(ch):
            if kind != "hangul" or (pending_space and not join_spaces):
                flush()
                kind = "hangul"
            buf.append(ch)
            pending_space = False
        elif _is_word_char(ch):
            if kind != "word":
                flush()
                kind = "word"
            buf.append(ch)
            pending_space = False
        elif ch.isspace() and kind == "hangul":
            pending_space = True
        else:
            flush()
            pending_space = False
    flush()
    return out


def bigrams(run: str) -> list[str]:
    return [run[i:i + 2] for i in range(len(run) - 1)]


def document_terms(*texts: str) -> list[str]:
    """The index terms of a document, in order (see the module docstring)."""
    terms: list[str] = []
    for text in texts:
        for kind, run in _runs(text, join_spaces=True):
            if kind == "hangul":
                terms.extend(bigrams(run))
                terms.append(run[-1])
            elif len(run) <= MAX_TOKEN:
                terms.append(run)
        if len(terms) >= MAX_TERMS:
            return terms[:MAX_TERMS]
    return terms


def strip_particle(word: str) -> str:
    if len(word) >= 3:
        for p in PARTICLES:
            if word.endswith(p) and len(word) - len(p) >= 2:
                return word[: -len(p)]
    return word


@dataclass(frozen=True)
class QueryUnit:
    """One query word: its terms (bigrams, or one Latin word), or one prefix term."""

    terms: tuple[str, ...]
    prefix: bool = False


def query_units(q: str) -> list[QueryUnit]:
    """The AND-ed units of a query (duplicates removed, at most :data:`MAX_QUERY_WORDS`)."""
    units: list[QueryUnit] = []
    for kind, run in _runs(q, join_spaces=False):
        if kind == "hangul":
            word = strip_particle(run)
            unit = QueryUnit((word,), prefix=True) if len(word) == 1 else QueryUnit(tuple(bigrams(word)))
        elif len(run) <= MAX_TOKEN:
            unit = QueryUnit((run,))
        else:
            continue
        if unit not in units:
            units.append(unit)
        if len(units) >= MAX_QUERY_WORDS:
            break
    return units


def _flat(units: list[QueryUnit]) -> list[tuple[str, bool]]:
    seen: list[tuple[str, bool]] = []
    for u in units:
        for t in u.terms:
            if (t, u.prefix) not in seen:
                seen.append((t, u.prefix))
    return seen


def fts5_query(units: list[QueryUnit], column: str | None = None) -> str:
    """SQLite FTS5 MATCH text: every term quoted, ``*`` for a prefix, AND between them; with
    ``column``, each term restricted to that column (``title : "건강"``)."""
    col = f"{column} : " if column else ""
    return " AND ".join(f'{col}"{t}"' + ("*" if prefix else "") for t, prefix in _flat(units))


def tsquery(units: list[QueryUnit]) -> str:
    """PostgreSQL ``to_tsquery('simple', …)`` text: every term quoted, ``:*`` for a prefix, ``&``."""
    return " & ".join(f"'{t}'" + (":*" if prefix else "") for t, prefix in _flat(units))
