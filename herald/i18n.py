"""Messages a marketer reads, in English and Russian (Babel catalogs).

    N_("invalid email: {detail}")             # marks a message for extraction; returns it as is
    translate("required but empty", "ru")     # -> "обязательное поле не заполнено"
    translate_reason("email: invalid email: An email address must have an @-sign.", "ru")

The English text is the message id: code writes it (reports keep the English reason, so a
report means the same in every language), and a person's language is applied where the text
is shown. The catalogs are `herald/locale/<language>/LC_MESSAGES/herald.po`, read at run time
with Babel (nothing to compile); `make i18n` extracts the marked messages into
`herald/locale/herald.pot` and merges them into the catalogs.

A reason is composed: row problems joined by "; ", each often "<field>: <problem>: <detail>",
the detail sometimes a library's own English sentence (email-validator, phonenumbers).
`translate_reason` matches every part against the catalog's messages with placeholders
(`{name}`), translates what matches, part by part, and leaves unknown text as it is.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

LANGUAGES = ("en", "ru")
DEFAULT_LANGUAGE = "en"
DOMAIN = "herald"
LOCALE_DIR = Path(__file__).parent / "locale"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
# What a placeholder matches in a reason: a field name, or any text.
_PLACEHOLDER_PATTERNS = {"field": r"[A-Za-z_][A-Za-z0-9_]*"}
_RECURSIVE = frozenset({"detail"})  # placeholders whose text is itself translated


def N_(message: str) -> str:  # the gettext convention pybabel extracts
    """Mark `message` for the catalogs; it is returned unchanged."""
    return message


def language_of(accept_language: str | None) -> str:
    """The best of LANGUAGES for an Accept-Language header (or a plain `ru`, `en-GB`)."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept_language.split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, position, tag.strip().lower().split("-")[0]))
    for _, _, tag in sorted(ranked):
        if tag in LANGUAGES:
            return tag
    return DEFAULT_LANGUAGE


@cache
def catalog(language: str) -> dict[str, str]:
    """The translations of one language: message id -> text (English: none)."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if language == DEFAULT_LANGUAGE or not path.exists():
        return {}
    with path.open("rb") as handle:
        po = read_po(handle, locale=language)
    return {
        str(message.id): str(message.string)
        for message in po
        if message.id and message.string and not message.fuzzy
    }


def translate(message: str, language: str, **values: object) -> str:
    """`message` in `language` (English when it has no translation), placeholders filled."""
    text = catalog(language).get(message, message)
    return text.format(**values) if values else text


@dataclass(frozen=True)
class _Template:
    message: str
    pattern: re.Pattern[str]
    names: tuple[str, ...]


@cache
def _templates(language: str) -> tuple[_Template, ...]:
    """The catalog's messages as patterns, the most specific (most literal text) first."""
    found = []
    for message in catalog(language):
        names = tuple(_PLACEHOLDER.findall(message))
        pieces = _PLACEHOLDER.split(message)
        regex = ""
        for index, piece in enumerate(pieces):
            if index % 2 == 0:
                regex += re.escape(piece)
            else:
                regex += f"(?P<{piece}>{_PLACEHOLDER_PATTERNS.get(piece, '.+?')})"
        found.append(_Template(message, re.compile(f"^{regex}$", re.DOTALL), names))
    return tuple(sorted(found, key=_specificity))


def _specificity(template: _Template) -> tuple[int, int, str]:
    """Templates that start with text first, then those that start with a field name, then
    the rest; within each, the most literal text first."""
    first = _PLACEHOLDER.match(template.message)
    start = 0 if first is None else 1 if first[1] in _PLACEHOLDER_PATTERNS else 2
    literal = len(_PLACEHOLDER.sub("", template.message))
    return start, -literal, template.message


def translate_reason(reason: str, language: str) -> str:
    """A composed reason (parts joined by "; ") in `language`, part by part."""
    if language == DEFAULT_LANGUAGE or not reason:
        return reason
    return "; ".join(_translate_part(part, language) for part in reason.split("; "))


def _translate_part(text: str, language: str, depth: int = 0) -> str:
    translated = catalog(language).get(text)
    if translated is not None:
        return translated
    if depth > 4:
        return text
    for template in _templates(language):
        if not template.names:
            continue
        match = template.pattern.match(text)
        if match is None:
            continue
        values = {
            name: _translate_part(value, language, depth + 1) if name in _RECURSIVE else value
            for name, value in match.groupdict().items()
        }
        return catalog(language)[template.message].format(**values)
    return text


def translate_report(path: Path, language: str) -> Path:
    """A copy of an import's rejected-rows CSV with its `reason` column in `language`, beside
    it as `<name>.<language>.csv` (UTF-8 with BOM, as the report); the report itself when
    the language is English."""
    if language == DEFAULT_LANGUAGE:
        return path
    target = path.with_name(f"{path.stem}.{language}{path.suffix}")
    with (
        path.open(encoding="utf-8-sig", newline="") as source,
        target.open("w", encoding="utf-8-sig", newline="") as out,
    ):
        rows = csv.reader(source)
        writer = csv.writer(out)
        header = next(rows, None)
        if header is None:
            return target
        writer.writerow(header)
        column = header.index("reason") if "reason" in header else None
        for row in rows:
            if column is not None and column < len(row):
                row[column] = translate_reason(row[column], language)
            writer.writerow(row)
    return target
