"""Names and cities reduced to comparable keys: Cyrillic and Latin spellings meet.

`latin` transliterates Cyrillic to Latin and folds case, ё and punctuation; `skeleton`
further merges the spellings transliteration systems disagree on (Yuliya / Iuliia,
Aleksandr / Alexandr, Khabarov / Habarov) and doubled letters, so that one person's name
written by different systems gives one blocking key. Both are cached: names repeat.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",
    "з": "z", "и": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu",
    "я": "ya", "і": "i", "ї": "i", "є": "e", "ў": "u",
}  # fmt: skip

# Applied in order to a Latin spelling; longer patterns first.
_SKELETON_RULES = (
    ("shch", "sh"),
    ("sch", "sh"),
    ("x", "ks"),
    ("kh", "h"),
    ("ts", "c"),
    ("tz", "c"),
    ("w", "v"),
    ("ph", "f"),
    ("ck", "k"),
    ("q", "k"),
    ("y", "i"),
    ("j", "i"),
)
# After doubled letters are collapsed: iotated vowels lose their i (Yuliya, Iuliia → ula).
_IOTATED = (("iu", "u"), ("ia", "a"), ("ie", "e"), ("io", "o"))
_NOT_LETTER = re.compile(r"[^a-z ]+")
_DOUBLES = re.compile(r"(.)\1+")
_SPACES = re.compile(r"\s+")
_CITY_PREFIX = re.compile(r"^(g|gor|gorod|city of)\s+")

# Exonyms and slang that transliteration cannot join; extend as sources show new ones.
_CITY_ALIASES = {
    "moscow": "moskva",
    "msk": "moskva",
    "mosk": "moskva",
    "saint petersburg": "sankt peterburg",
    "st petersburg": "sankt peterburg",
    "st peterburg": "sankt peterburg",
    "spb": "sankt peterburg",
    "piter": "sankt peterburg",
    "peterburg": "sankt peterburg",
    "ekb": "ekaterinburg",
    "yekaterinburg": "ekaterinburg",
    "nsk": "novosibirsk",
    "nizhny novgorod": "nizhnii novgorod",
    "nn": "nizhnii novgorod",
}


@lru_cache(maxsize=200_000)
def latin(text: str | None) -> str:
    """Lower-case Latin letters and single spaces: `Фёдорова` → `fedorova`."""
    if not text:
        return ""
    lowered = text.strip().lower()
    spelled = "".join(_CYRILLIC.get(char, char) for char in lowered)
    folded = unicodedata.normalize("NFKD", spelled)
    ascii_only = "".join(char for char in folded if not unicodedata.combining(char))
    cleaned = _NOT_LETTER.sub(" ", ascii_only.replace("'", "").replace("-", " "))
    return _SPACES.sub(" ", cleaned).strip()


@lru_cache(maxsize=200_000)
def skeleton(text: str | None) -> str:
    """A key that transliteration variants share: `Юлия`, `Yuliya`, `Iuliia` → `ulia`."""
    word = latin(text)
    for pattern, replacement in _SKELETON_RULES:
        word = word.replace(pattern, replacement)
    word = _DOUBLES.sub(r"\1", word)
    for pattern, replacement in _IOTATED:
        word = word.replace(pattern, replacement)
    return word.replace(" ", "")


@lru_cache(maxsize=50_000)
def city_key(text: str | None) -> str:
    """`г. Москва`, `москва`, `Moscow`, `Мск` → one key."""
    name = _CITY_PREFIX.sub("", latin(text))
    name = _CITY_ALIASES.get(name, name)
    return skeleton(name)


def split_full_name(full_name: str | None) -> tuple[str | None, str | None]:
    """`Роман Баранов` → (given, family); a single word is a given name."""
    if not full_name:
        return None, None
    words = full_name.split()
    if not words:
        return None, None
    if len(words) == 1:
        return words[0], None
    return words[0], words[-1]
