"""Normalise imported text values by kind; every normaliser returns (value, error), never raises.

Empty input (`None` or only whitespace) gives `(None, None)` from every normaliser: whether a
value is required is `normalize_row`'s business. Errors are short texts meant for a person,
starting with what was expected ("invalid email: ...").

Rules decided here (and shown to CRM managers in the import help):

- email: surrounding whitespace, `<...>` and `mailto:` are removed; the whole address is
  lower-cased (mail providers treat the local part case-insensitively in practice, and
  identity matching needs one spelling); an internationalised domain becomes punycode
  (`ivan@пример.рф` → `ivan@xn--e1afmkfd.xn--p1ai`). Syntax only, no DNS.
- phone: E.164 (`+79161234567`) through `phonenumbers` with a default region (RU); digits
  without `+` that are invalid in the region are tried once more as international.
- date: `YYYY-MM-DD`, `YYYY/MM/DD`, `YYYY.MM.DD`, `DD.MM.YYYY` (dots are always day first),
  `D.M.YY`, `DD/MM/YYYY` or `MM/DD/YYYY` and the same with `-` (the `dayfirst` option, True by
  default, decides unless one number is above 12), `YYYYMMDD`, day and month name
  (`5 March 2024`, `5 марта 2024`), and any ISO datetime (its date is taken). Two-digit years
  are in this century unless that would be more than a year ahead of today, then the last.
- datetime: ISO 8601 (with `T` or a space, optional seconds, fraction, `Z` or offset), or any
  of the date forms followed by `HH:MM[:SS]`; without an offset the value stays naive.
- float: spaces, NBSP, thin spaces, `'`, `_` and currency signs are dropped; with both `,`
  and `.` the later one is the decimal point and the other must group thousands
  (`1.234.567,89`, `1,234.5`); a single `,` is a decimal comma (`1 234,56`, and `1,234` is
  1.234 — Russian files win that ambiguity); several `,` or `.` alone must group thousands.
- integer: the same, plus `1,234` = 1234 (an integer has no decimals to confuse it with) and
  whole floats (`12.0`, as spreadsheets export); `12.5` is an error, never rounded.
- boolean: yes/no, y/n, true/false, t/f, 1/0, on/off, +/-, да/нет, д/н, истина/ложь.
- string: NFC, NBSP and other spaces to a space, runs of spaces collapsed, each line stripped,
  zero-width characters removed; line breaks are kept (a note keeps its lines).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gc
import json
import math
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from herald.i18n import N_

FieldType = Literal[
    "string",
    "integer",
    "float",
    "boolean",
    "date",
    "datetime",
    "email",
    "phone",
    "enum",
    "list",
    "json",
]
FIELD_TYPES: tuple[str, ...] = FieldType.__args__  # type: ignore[attr-defined]

Result = tuple[Any, str | None]
Normalizer = Callable[[str | None], Result]


@dataclass(frozen=True)
class FieldSpec:
    """What one import column becomes: enough of a profile attribute to normalise it.

    `identifier` names the identity kind the value is ("email", "phone", "external_id", ...);
    an email or phone identifier is normalised as such whatever `type` says. `default` is a
    clean value used as it is when the cell is empty.
    """

    name: str
    type: FieldType = "string"
    identifier: str | None = None
    required: bool = False
    default: Any = None
    enum_values: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class NormalizeOptions:
    """Per-import choices: the phone region for numbers without a country code, and whether
    ambiguous slash/dash dates put the day first (01/02/2024 = 1 February)."""

    region: str = "RU"
    dayfirst: bool = True


# ---------------------------------------------------------------------------------------------
# Text

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_BLANK = frozenset(" \t\r\n\u00a0\u2007\u202f\u2009\u200a\u3000")


def _is_empty(raw: str | None) -> bool:
    return raw is None or not raw.strip()


def normalize_string(raw: str | None) -> Result:
    if raw is None:
        return None, None
    text = raw
    if not text.isascii():
        text = unicodedata.normalize("NFC", text.translate(_ZERO_WIDTH))
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\n" in text:
        lines = [" ".join(line.split()) for line in text.split("\n")]
        text = "\n".join(lines).strip()
    else:
        text = " ".join(text.split())  # str.split() knows NBSP and the other Unicode spaces
    return (text or None), None


# ---------------------------------------------------------------------------------------------
# Email

_EMAIL_FAST = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
)


def _special_use_domains() -> frozenset[str]:
    import email_validator

    return frozenset(email_validator.SPECIAL_USE_DOMAIN_NAMES)


_SPECIAL_USE = _special_use_domains()


@functools.lru_cache(maxsize=65_536)
def _email(text: str) -> Result:
    lowered = text.lower()
    if (
        _EMAIL_FAST.fullmatch(lowered)
        and len(lowered) <= 254
        and lowered.index("@") <= 64
        and "--" not in lowered.partition("@")[2]
        and lowered.rpartition(".")[2] not in _SPECIAL_USE  # all special-use names are TLDs
    ):
        return lowered, None
    return _email_validated(lowered)


def _email_validated(text: str) -> Result:
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(
            text, check_deliverability=False, allow_smtputf8=True, allow_quoted_local=False
        )
    except EmailNotValidError as error:
        return None, N_("invalid email: {detail}").format(detail=error)
    except Exception as error:  # the validator's own bugs must not stop an import
        return None, N_("invalid email: {detail}").format(detail=error)
    domain = result.ascii_domain or result.domain
    return f"{result.local_part.lower()}@{domain.lower()}", None


def normalize_email(raw: str | None) -> Result:
    if _is_empty(raw):
        return None, None
    assert raw is not None
    text = raw.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    if text[:7].lower() == "mailto:":
        text = text[7:].strip()
    return _email(text)


# ---------------------------------------------------------------------------------------------
# Phone


_PHONE_PUNCTUATION = re.compile(r"\+?[0-9 ().\-\u00a0]+")
_NOT_DIGITS = str.maketrans("", "", "+ ().-\u00a0")


@dataclass(frozen=True)
class _MobilePlan:
    """What the fast path needs from a region's metadata to recognise its mobile numbers."""

    country_code: str
    national_prefix: str | None
    mobile: re.Pattern[str]
    general: re.Pattern[str] | None
    """Any national number of the region; digits written without `+` that start with the
    country code and match it stay national for phonenumbers (DE `49 160 ...`)."""


@functools.lru_cache(maxsize=256)
def _mobile_plan(region: str) -> _MobilePlan | None:
    """The region's mobile-number pattern, or None where national prefixes need rewriting
    rules (Argentina, Mexico, ...) that only phonenumbers itself applies correctly."""
    import phonenumbers
    from phonenumbers import PhoneMetadata

    metadata = PhoneMetadata.metadata_for_region(region.upper())
    if metadata is None or metadata.mobile is None:
        return None
    pattern = metadata.mobile.national_number_pattern
    prefix = metadata.national_prefix
    parsing = metadata.national_prefix_for_parsing
    if not pattern or metadata.national_prefix_transform_rule or (parsing and parsing != prefix):
        return None
    country_code = phonenumbers.country_code_for_region(region.upper())
    sharing = phonenumbers.region_codes_for_country_code(country_code)
    if len(sharing) > 1 and not metadata.main_country_for_code:
        return None  # KZ under +7, CA under +1: phonenumbers decides between the regions
    code = str(country_code)
    general = metadata.general_desc.national_number_pattern if metadata.general_desc else None
    return _MobilePlan(code, prefix, re.compile(pattern), re.compile(general) if general else None)


def _mobile_fast(text: str, region: str) -> str | None:
    """E.164 for a plainly written mobile number of the default region, without phonenumbers'
    full parse (about 50 µs); None means "ask phonenumbers". Agreement with phonenumbers is
    a property test."""
    if not _PHONE_PUNCTUATION.fullmatch(text):
        return None
    plan = _mobile_plan(region)
    if plan is None:
        return None
    digits = text.translate(_NOT_DIGITS)
    code = plan.country_code
    if text.startswith("+"):
        if not digits.startswith(code):
            return None
        candidates = [digits[len(code) :]]
    else:
        candidates = [digits]
        if plan.national_prefix and digits.startswith(plan.national_prefix):
            candidates.append(digits[len(plan.national_prefix) :])
        if digits.startswith(code):
            if plan.general is None or plan.general.fullmatch(digits):
                return None  # phonenumbers may keep the code's digits as national ones
            candidates.append(digits[len(code) :])
    matches = {
        national
        for national in candidates
        if national and national[0] != "0" and plan.mobile.fullmatch(national)
    }
    if len(matches) != 1:
        return None
    return "+" + code + matches.pop()


@functools.lru_cache(maxsize=262_144)
def _phone(text: str, region: str) -> Result:
    fast = _mobile_fast(text, region)
    if fast is not None:
        return fast, None
    return _phone_parsed(text, region)


def _phone_parsed(text: str, region: str) -> Result:
    import phonenumbers

    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        reason = str(error.args[0]) if error.args else N_("cannot be parsed")
    else:
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None
        reason = N_("not a valid number")
    digits = "".join(char for char in text if char.isdigit())
    if not text.lstrip().startswith("+") and 8 <= len(digits) <= 15:
        try:
            number = phonenumbers.parse("+" + digits, None)
        except phonenumbers.NumberParseException:
            pass
        else:
            if phonenumbers.is_valid_number(number):
                e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                return e164, None
    return None, N_("invalid phone: {detail}").format(detail=reason)


def normalize_phone(raw: str | None, region: str = "RU") -> Result:
    if _is_empty(raw):
        return None, None
    assert raw is not None
    text = raw.strip()
    if len(text) > 64:
        return None, N_("invalid phone: {detail}").format(detail=N_("too long"))
    return _phone(text, region)


# ---------------------------------------------------------------------------------------------
# Dates

_MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    [
        "jan january янв январь января",
        "feb february фев февраль февраля",
        "mar march мар март марта",
        "apr april апр апрель апреля",
        "may май мая",
        "jun june июн июнь июня",
        "jul july июл июль июля",
        "aug august авг август августа",
        "sep sept september сен сент сентябрь сентября",
        "oct october окт октябрь октября",
        "nov november ноя нояб ноябрь ноября",
        "dec december дек декабрь декабря",
    ],
    start=1,
):
    for _name in _names.split():
        _MONTHS[_name] = _number

_YMD = re.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})")
_DMY = re.compile(r"(\d{1,2})([-/.])(\d{1,2})\2(\d{4}|\d{2})")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_NAMED = re.compile(r"(\d{1,2})\.?\s+([^\W\d_]+)\.?,?\s+(\d{4})(?:\s*(?:г\.?|года?))?")
_NAMED_US = re.compile(r"([^\W\d_]+)\.?\s+(\d{1,2}),?\s+(\d{4})")
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?")
_DATE_AND_TIME = re.compile(r"(.+?)(?:[ T]|,\s*)\s*(\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d{1,6})?)?)")


def _full_year(year: str) -> int:
    if len(year) == 4:
        return int(year)
    this_year = dt.date.today().year
    candidate = 2000 + int(year)
    return candidate if candidate <= this_year + 1 else candidate - 100


def _parse_date(text: str, dayfirst: bool) -> dt.date | str:
    """A date, or the reason there is none."""
    try:
        if match := _YMD.fullmatch(text):
            return dt.date(int(match[1]), int(match[3]), int(match[4]))
        if match := _DMY.fullmatch(text):
            first, second, year = int(match[1]), int(match[3]), _full_year(match[4])
            if match[2] == "." or first > 12 >= second:
                day, month = first, second
            elif second > 12 >= first:
                day, month = second, first
            elif dayfirst:
                day, month = first, second
            else:
                day, month = second, first
            return dt.date(year, month, day)
        if match := _COMPACT.fullmatch(text):
            return dt.date(int(match[1]), int(match[2]), int(match[3]))
        if match := _NAMED.fullmatch(text):
            month_number = _MONTHS.get(match[2].lower())
            if month_number:
                return dt.date(int(match[3]), month_number, int(match[1]))
            return N_("unknown month {month}").format(month=repr(match[2]))
        if match := _NAMED_US.fullmatch(text):
            month_number = _MONTHS.get(match[1].lower())
            if month_number:
                return dt.date(int(match[3]), month_number, int(match[2]))
            return N_("unknown month {month}").format(month=repr(match[1]))
    except ValueError as error:
        return str(error)
    return N_("unrecognised format")


@functools.lru_cache(maxsize=65_536)
def _date(text: str, dayfirst: bool) -> Result:
    parsed = _parse_date(text, dayfirst)
    if isinstance(parsed, str) and ("T" in text or ":" in text):
        moment = _datetime(text, dayfirst)
        if moment[1] is None:
            return moment[0].date(), None
    if isinstance(parsed, str):
        return None, N_("invalid date: {detail}").format(detail=parsed)
    return parsed, None


def normalize_date(raw: str | None, dayfirst: bool = True) -> Result:
    if _is_empty(raw):
        return None, None
    assert raw is not None
    text = raw.strip()
    if len(text) > 64:
        return None, N_("invalid date: {detail}").format(detail=N_("too long"))
    return _date(text, dayfirst)


@functools.lru_cache(maxsize=65_536)
def _datetime(text: str, dayfirst: bool) -> Result:
    iso = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        return dt.datetime.fromisoformat(iso), None
    except ValueError:
        pass
    split = _DATE_AND_TIME.fullmatch(text)
    date_part, time_part = (split[1], split[2]) if split else (text, "")
    parsed = _parse_date(date_part, dayfirst)
    if isinstance(parsed, str):
        return None, N_("invalid datetime: {detail}").format(detail=parsed)
    if not time_part:
        return dt.datetime(parsed.year, parsed.month, parsed.day), None
    match = _TIME.fullmatch(time_part)
    if not match:
        return None, N_("invalid datetime: {detail}").format(detail=N_("unrecognised time"))
    try:
        fraction = int((match[4] or "0").ljust(6, "0"))
        moment = dt.datetime(
            parsed.year,
            parsed.month,
            parsed.day,
            int(match[1]),
            int(match[2]),
            int(match[3] or 0),
            fraction,
        )
    except ValueError as error:
        return None, N_("invalid datetime: {detail}").format(detail=error)
    return moment, None


def normalize_datetime(raw: str | None, dayfirst: bool = True) -> Result:
    if _is_empty(raw):
        return None, None
    assert raw is not None
    text = raw.strip()
    if len(text) > 64:
        return None, N_("invalid datetime: {detail}").format(detail=N_("too long"))
    return _datetime(text, dayfirst)


# ---------------------------------------------------------------------------------------------
# Numbers and booleans

_GROUPING = str.maketrans("", "", " \u00a0\u202f\u2009\u2007'_")
_INTEGER = re.compile(r"[+-]?\d+")
_THOUSANDS_COMMA = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+")
_FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_CURRENCY = str.maketrans("", "", "$€₽£¥")


def _grouped(whole: str, grouping: str) -> bool:
    """Whether digits are grouped by threes with `grouping` (or not grouped at all)."""
    if grouping not in whole:
        return bool(re.fullmatch(r"[+-]?\d*", whole))
    return bool(re.fullmatch(r"[+-]?\d{1,3}(?:" + re.escape(grouping) + r"\d{3})+", whole))


def _number_text(raw: str) -> str:
    text = raw.strip().translate(_GROUPING).translate(_CURRENCY)
    return text.replace("\u2212", "-")


def normalize_integer(raw: str | None) -> Result:
    if _is_empty(raw):
        return None, None
    assert raw is not None
    text = _number_text(raw)
    if len(text) > 40:
        return None, N_("invalid integer: {detail}").format(detail=N_("too long"))
    if _INTEGER.fullmatch(text):
        return int(text), None
    if _THOUSANDS_COMMA.fullmatch(text):
        return int(text.replace(",", "")), None
    value, error = normalize_float(raw)
    if error is None and float(value).is_integer():
        return int(value), None
    return None, N_("invalid integer: {detail}").format(
        detail=N_("{value} is not a whole number").format(value=repr(raw.strip()[:40]))
    )


def normalize_float(raw: str | None) -> Result:
    if _is_empty(raw):
        return None, None
    assert raw is not None
    text = _number_text(raw)
    if len(text) > 64:
        return None, N_("invalid number: {detail}").format(detail=N_("too long"))
    comma, dot = text.rfind(","), text.rfind(".")
    if comma >= 0 and dot >= 0:
        # The later separator is the decimal point; the other one groups thousands.
        point, grouping = (",", ".") if comma > dot else (".", ",")
        whole, _, fraction = text.rpartition(point)
        if not _grouped(whole, grouping):
            return None, N_("invalid number: {detail}").format(detail=repr(raw.strip()[:40]))
        text = whole.replace(grouping, "") + "." + fraction
    elif comma >= 0:
        if text.count(",") == 1:
            text = text.replace(",", ".")
        elif _grouped(text, ","):
            text = text.replace(",", "")
        else:
            return None, N_("invalid number: {detail}").format(detail=repr(raw.strip()[:40]))
    elif text.count(".") > 1:
        if not _grouped(text, "."):
            return None, N_("invalid number: {detail}").format(detail=repr(raw.strip()[:40]))
        text = text.replace(".", "")
    if not _FLOAT.fullmatch(text):
        return None, N_("invalid number: {detail}").format(detail=repr(raw.strip()[:40]))
    value = float(text)
    if not math.isfinite(value):
        return None, N_("invalid number: {detail}").format(detail=N_("too large"))
    return value, None


_TRUE = frozenset({"true", "t", "yes", "y", "1", "on", "+", "да", "д", "истина", "ok", "x", "✓"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "off", "-", "нет", "н", "ложь", "–", "—"})


def normalize_boolean(raw: str | None) -> Result:
    if _is_empty(raw):
        return None, None
    assert raw is not None
    text = raw.strip().lower()
    if text in _TRUE:
        return True, None
    if text in _FALSE:
        return False, None
    return None, N_("invalid boolean: {value} is not yes/no").format(value=repr(raw.strip()[:40]))


# ---------------------------------------------------------------------------------------------
# Enum, list, json


def _enum_key(text: str) -> str:
    return " ".join(text.split()).casefold()


@functools.lru_cache(maxsize=1024)
def _enum_index(allowed: tuple[str, ...]) -> dict[str, str]:
    return {_enum_key(value): value for value in allowed}


def normalize_enum(raw: str | None, allowed: Sequence[str]) -> Result:
    if _is_empty(raw):
        return None, None
    assert raw is not None
    value = _enum_index(tuple(allowed)).get(_enum_key(raw))
    if value is None:
        shown = ", ".join(allowed[:10]) + (", ..." if len(allowed) > 10 else "")
        return None, N_("invalid value: {value} is not one of {allowed}").format(
            value=repr(raw.strip()[:40]), allowed=shown
        )
    return value, None


_LIST_SEPARATORS = re.compile(r"[,;\n]")


def normalize_list(raw: str | None) -> Result:
    if _is_empty(raw):
        return None, None
    assert raw is not None
    items = []
    for part in _LIST_SEPARATORS.split(raw):
        item, _ = normalize_string(part)
        if item:
            items.append(item)
    return (items or None), None


def normalize_json(raw: str | None) -> Result:
    if _is_empty(raw):
        return None, None
    assert raw is not None
    try:
        return json.loads(raw), None
    except (ValueError, RecursionError) as error:
        return None, N_("invalid json: {detail}").format(detail=error)


# ---------------------------------------------------------------------------------------------
# Rows


def _kind(spec: FieldSpec) -> str:
    return spec.identifier if spec.identifier in ("email", "phone") else spec.type


def normalizer_for(spec: FieldSpec, options: NormalizeOptions) -> Callable[[str | None], Result]:
    """The one-argument normaliser for a field, with the import's options bound in."""
    kind = _kind(spec)
    if kind == "email":
        return normalize_email
    if kind == "phone":
        return functools.partial(normalize_phone, region=options.region)
    if kind == "date":
        return functools.partial(normalize_date, dayfirst=options.dayfirst)
    if kind == "datetime":
        return functools.partial(normalize_datetime, dayfirst=options.dayfirst)
    if kind == "enum":
        return functools.partial(normalize_enum, allowed=spec.enum_values)
    simple: dict[str, Callable[[str | None], Result]] = {
        "string": normalize_string,
        "integer": normalize_integer,
        "float": normalize_float,
        "boolean": normalize_boolean,
        "list": normalize_list,
        "json": normalize_json,
    }
    if kind not in simple:
        raise ValueError(f"unknown field type {kind!r}")
    return simple[kind]


def normalize_value(raw: str | None, spec: FieldSpec, options: NormalizeOptions) -> Result:
    return normalizer_for(spec, options)(raw)


_UNCACHED_KINDS = frozenset({"list", "json"})  # their clean values are mutable
ROW_CACHE_SIZE = 65_536

# A cell's outcome: its clean value (or that value encoded, see `normalize_columns`), and the
# row's error message for it ("email: invalid email: ..."), or None.
CellOutcome = tuple[Any, str | None]
CellEncoder = Callable[[str, Any], Any]


class _FieldColumn:
    """One field of a row normaliser: its normaliser, the default and required rules, and the
    outcomes of its first `ROW_CACHE_SIZE` distinct raw values."""

    def __init__(self, spec: FieldSpec, options: NormalizeOptions) -> None:
        self.spec = spec
        self.name = spec.name
        self.normalizer = normalizer_for(spec, options)
        self.cacheable = _kind(spec) not in _UNCACHED_KINDS
        self.outcomes: dict[str | None, CellOutcome] = {}
        self.encoded: dict[str | None, CellOutcome] = {}

    def outcome(self, raw: str | None) -> CellOutcome:
        """The clean value (the default where empty) and the error message, uncached."""
        try:
            value, error = self.normalizer(raw)
        except Exception as unexpected:  # a normaliser bug rejects the row, not the file
            value, error = (
                None,
                N_("cannot be read ({error})").format(error=type(unexpected).__name__),
            )
        if error is not None:
            return None, N_("{field}: {detail}").format(field=self.name, detail=error)
        if value is None:
            if self.spec.default is not None:
                return self.spec.default, None
            if self.spec.required:
                return None, N_("{field}: {detail}").format(
                    field=self.name, detail=N_("required but empty")
                )
        return value, None

    def cached_outcome(self, raw: str | None) -> CellOutcome:
        outcome = self.outcomes.get(raw)
        if outcome is None:
            outcome = self.outcome(raw)
            if self.cacheable and len(self.outcomes) < ROW_CACHE_SIZE:
                self.outcomes[raw] = outcome
        return outcome

    def encoded_outcomes(
        self, raws: Sequence[str | None], encode: CellEncoder
    ) -> list[CellOutcome]:
        """Each raw value's outcome with the clean value replaced by `encode(name, value)`
        (the value is None where the cell is in error)."""
        name, outcome = self.name, self.outcome
        if not self.cacheable:
            return [(encode(name, value), error) for value, error in map(outcome, raws)]
        cache = self.encoded
        get = cache.get

        def remember(raw: str | None) -> CellOutcome:
            value, error = outcome(raw)
            result = encode(name, value), error
            if len(cache) < ROW_CACHE_SIZE:
                cache[raw] = result
            return result

        # A cached outcome is a non-empty tuple, so `or` only computes the misses.
        return [get(raw) or remember(raw) for raw in raws]


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch is worked on: normalising makes no
    reference cycles, and the collector's passes over the millions of young tuples and strings
    of a batch (and the caches) cost as much as the normalising itself."""
    collecting = gc.isenabled()
    if collecting:
        gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


@dataclass
class NormalizedColumns:
    """A batch of rows normalised column by column (see `RowNormalizer.normalize_columns`)."""

    values: dict[str, list[Any]]
    """Each field's clean value (or its encoding) per row; None where the cell is in error."""
    errors: dict[int, list[str]]
    """The error messages of the rows that have any, by the row's index in the batch."""


class RowNormalizer:
    """`normalize_row` with the normalisers chosen once, for an import's many rows.

    Each column remembers the outcomes of its first `ROW_CACHE_SIZE` distinct raw values:
    client lists repeat cities, tiers, dates and yes/no words, and a dictionary look-up costs
    a fraction of any normaliser. (Unique values such as e-mails simply stop being added.)
    A row normalised by `__call__` and the same row in a batch of `normalize_columns` get the
    same values and the same errors, in the fields' order.
    """

    def __init__(
        self, fields: Sequence[FieldSpec], options: NormalizeOptions | None = None
    ) -> None:
        options = options or NormalizeOptions()
        self.fields = list(fields)
        self._columns = [_FieldColumn(spec, options) for spec in self.fields]

    def __call__(self, values: dict[str, str | None]) -> tuple[dict[str, Any], list[str]]:
        clean: dict[str, Any] = {}
        errors: list[str] = []
        for column in self._columns:
            value, error = column.cached_outcome(values.get(column.name))
            clean[column.name] = value
            if error is not None:
                errors.append(error)
        return clean, errors

    def normalize_columns(
        self,
        columns: dict[str, Sequence[str | None]],
        rows: int,
        encode: CellEncoder | None = None,
    ) -> NormalizedColumns:
        """A batch of `rows` rows given as raw columns (a field without a column is empty in
        every row), normalised a column at a time: several times faster than row by row.

        With `encode`, each clean value is returned as `encode(field_name, value)`, computed
        once per distinct raw value of the field like the value itself.
        """
        with collector_paused():
            return self._normalize_columns(columns, rows, encode)

    def _normalize_columns(
        self,
        columns: dict[str, Sequence[str | None]],
        rows: int,
        encode: CellEncoder | None,
    ) -> NormalizedColumns:
        values: dict[str, list[Any]] = {}
        errors: dict[int, list[str]] = {}
        for column in self._columns:
            raws = columns.get(column.name)
            if raws is None:
                raws = [None] * rows
            if encode is not None:
                outcomes = column.encoded_outcomes(raws, encode)
            else:
                outcomes = [column.cached_outcome(raw) for raw in raws]
            if not outcomes:
                values[column.name] = []
                continue
            values[column.name] = [outcome[0] for outcome in outcomes]
            messages = [outcome[1] for outcome in outcomes]
            if messages.count(None) != len(messages):
                for index, message in enumerate(messages):
                    if message is not None:
                        errors.setdefault(index, []).append(message)
        return NormalizedColumns(values, errors)


def normalize_row(
    values: dict[str, str | None],
    fields: Sequence[FieldSpec],
    options: NormalizeOptions | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Every field's clean value (None where empty or invalid) and the row's errors."""
    return RowNormalizer(fields, options)(values)


__all__ = [
    "FIELD_TYPES",
    "FieldSpec",
    "FieldType",
    "NormalizeOptions",
    "NormalizedColumns",
    "RowNormalizer",
    "clear_caches",
    "normalize_boolean",
    "normalize_date",
    "normalize_datetime",
    "normalize_email",
    "normalize_enum",
    "normalize_float",
    "normalize_integer",
    "normalize_json",
    "normalize_list",
    "normalize_phone",
    "normalize_row",
    "normalize_string",
    "normalizer_for",
]


def clear_caches() -> None:
    """Forget cached results (benchmarks measure cold runs; tests compare settings)."""
    for cached in (_email, _phone, _date, _datetime, _mobile_plan, _enum_index):
        cached.cache_clear()
