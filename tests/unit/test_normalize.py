"""Normalising imported values: each kind's accepted forms, its errors, and never raising."""

from __future__ import annotations

import datetime as dt

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from herald.imports.normalize import (
    FIELD_TYPES,
    FieldSpec,
    NormalizeOptions,
    RowNormalizer,
    _mobile_fast,
    _phone_parsed,
    normalize_boolean,
    normalize_date,
    normalize_datetime,
    normalize_email,
    normalize_enum,
    normalize_float,
    normalize_integer,
    normalize_json,
    normalize_list,
    normalize_phone,
    normalize_row,
    normalize_string,
    normalizer_for,
)

# --- email -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ivan.Petrov@Mail.RU", "ivan.petrov@mail.ru"),
        ("  anna@yandex.ru\u00a0", "anna@yandex.ru"),
        ("<bob@example.com>", "bob@example.com"),
        ("mailto:Bob@Example.com", "bob@example.com"),
        ("ivan@пример.рф", "ivan@xn--e1afmkfd.xn--p1ai"),
        ("Иван@Пример.РФ", "иван@xn--e1afmkfd.xn--p1ai"),
        ("first+tag@sub.domain.co.uk", "first+tag@sub.domain.co.uk"),
    ],
)
def test_valid_emails_are_normalised(raw: str, expected: str) -> None:
    assert normalize_email(raw) == (expected, None)


@pytest.mark.parametrize(
    "raw",
    [
        "plainaddress",
        "bad@",
        "@mail.ru",
        "a@b",
        "a..b@mail.ru",
        "a b@mail.ru",
        "x@localhost",
        "x@site.test",
        "ivan@mail..ru",
        "a@-mail.ru",
    ],
)
def test_invalid_emails_are_errors(raw: str) -> None:
    value, error = normalize_email(raw)

    assert value is None
    assert error is not None and error.startswith("invalid email: ")


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_empty_values_are_none_without_error(raw: str | None) -> None:
    for kind in FIELD_TYPES:
        spec = FieldSpec("f", kind, enum_values=("a",))  # type: ignore[arg-type]
        assert normalizer_for(spec, NormalizeOptions())(raw) == (None, None)


email_local = st.from_regex(r"[A-Za-z0-9._%+\-]{1,20}", fullmatch=True)
email_domain = st.from_regex(r"([a-z0-9\-]{1,10}\.){1,3}[a-z]{2,6}", fullmatch=True)


@settings(max_examples=400, deadline=None)
@given(local=email_local, domain=email_domain)
def test_the_fast_email_path_agrees_with_email_validator(local: str, domain: str) -> None:
    raw = f"{local}@{domain}"
    try:
        result = validate_email(raw, check_deliverability=False)
        expected: str | None = f"{result.local_part.lower()}@{result.ascii_domain.lower()}"
    except EmailNotValidError:
        expected = None

    assert normalize_email(raw)[0] == expected


# --- phone -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+7 916 123-45-67", "+79161234567"),
        ("8 (916) 123-45-67", "+79161234567"),
        ("79161234567", "+79161234567"),
        ("9161234567", "+79161234567"),
        ("8-800-555-35-35", "+78005553535"),
        ("+44 20 7946 0958", "+442079460958"),
        ("442079460958", "+442079460958"),
        ("+1 (650) 253-0000", "+16502530000"),
    ],
)
def test_phones_become_e164(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == (expected, None)


def test_phone_region_is_an_option() -> None:
    assert normalize_phone("020 7946 0958", region="GB") == ("+442079460958", None)


@pytest.mark.parametrize("raw", ["abc", "123", "+7 916", "8 (916) 123-45-67-89-00", "x" * 100])
def test_invalid_phones_are_errors(raw: str) -> None:
    value, error = normalize_phone(raw)

    assert value is None
    assert error is not None and error.startswith("invalid phone")


# --- dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("05.03.2024", dt.date(2024, 3, 5)),
        ("5.3.2024", dt.date(2024, 3, 5)),
        ("5.3.24", dt.date(2024, 3, 5)),
        ("5.3.85", dt.date(1985, 3, 5)),
        ("2024-03-05", dt.date(2024, 3, 5)),
        ("2024/03/05", dt.date(2024, 3, 5)),
        ("05/03/2024", dt.date(2024, 3, 5)),
        ("25/03/2024", dt.date(2024, 3, 25)),
        ("03/25/2024", dt.date(2024, 3, 25)),
        ("20240305", dt.date(2024, 3, 5)),
        ("2024-03-05T10:20:30Z", dt.date(2024, 3, 5)),
        ("05.03.2024 10:20", dt.date(2024, 3, 5)),
        ("5 марта 2024", dt.date(2024, 3, 5)),
        ("5 March 2024", dt.date(2024, 3, 5)),
        ("March 5, 2024", dt.date(2024, 3, 5)),
    ],
)
def test_dates_in_common_forms(raw: str, expected: dt.date) -> None:
    assert normalize_date(raw) == (expected, None)


def test_ambiguous_slash_dates_follow_dayfirst() -> None:
    assert normalize_date("01/02/2024")[0] == dt.date(2024, 2, 1)
    assert normalize_date("01/02/2024", dayfirst=False)[0] == dt.date(2024, 1, 2)


def test_dotted_dates_are_always_day_first() -> None:
    assert normalize_date("01.02.2024", dayfirst=False)[0] == dt.date(2024, 2, 1)


@pytest.mark.parametrize("raw", ["31.02.2024", "2024-13-01", "hello", "32/13/2024", "5 foo 2024"])
def test_invalid_dates_are_errors(raw: str) -> None:
    value, error = normalize_date(raw)

    assert value is None
    assert error is not None and error.startswith("invalid date: ")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-03-05T10:20:30", dt.datetime(2024, 3, 5, 10, 20, 30)),
        ("2024-03-05 10:20", dt.datetime(2024, 3, 5, 10, 20)),
        ("2024-03-05T10:20:30Z", dt.datetime(2024, 3, 5, 10, 20, 30, tzinfo=dt.UTC)),
        (
            "2024-03-05T10:20:30+03:00",
            dt.datetime(2024, 3, 5, 10, 20, 30, tzinfo=dt.timezone(dt.timedelta(hours=3))),
        ),
        ("05.03.2024 10:20:30", dt.datetime(2024, 3, 5, 10, 20, 30)),
        ("05.03.2024, 9:05", dt.datetime(2024, 3, 5, 9, 5)),
        ("05.03.2024", dt.datetime(2024, 3, 5)),
        ("5 марта 2024 10:00", dt.datetime(2024, 3, 5, 10, 0)),
    ],
)
def test_datetimes(raw: str, expected: dt.datetime) -> None:
    assert normalize_datetime(raw) == (expected, None)


@pytest.mark.parametrize("raw", ["05.03.2024 25:00", "2024-03-05 noon", "yesterday"])
def test_invalid_datetimes_are_errors(raw: str) -> None:
    assert normalize_datetime(raw)[1] is not None


# --- numbers, booleans -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1 234,56", 1234.56),
        ("1\u00a0234,56", 1234.56),
        ("1,234.56", 1234.56),
        ("1.234,56", 1234.56),
        ("12,5", 12.5),
        ("-3.5e2", -350.0),
        ("1 000 000", 1_000_000.0),
        ("1,000,000", 1_000_000.0),
        ("₽ 99,90", 99.9),
    ],
)
def test_floats_with_comma_decimals_and_grouping(raw: str, expected: float) -> None:
    assert normalize_float(raw) == (expected, None)


@pytest.mark.parametrize("raw", ["abc", "1.2.3,4", "nan", "inf", "1e999", "12abc"])
def test_invalid_floats_are_errors(raw: str) -> None:
    assert normalize_float(raw)[1] is not None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("42", 42), ("-7", -7), ("1 234", 1234), ("1,234", 1234), ("12.0", 12), ("+5", 5)],
)
def test_integers(raw: str, expected: int) -> None:
    assert normalize_integer(raw) == (expected, None)


@pytest.mark.parametrize("raw", ["12.5", "abc", "1,5", "9" * 50])
def test_invalid_integers_are_errors(raw: str) -> None:
    assert normalize_integer(raw)[1] is not None


@pytest.mark.parametrize("raw", ["yes", "Y", "TRUE", "1", "on", "+", "да", "Да"])
def test_true_words(raw: str) -> None:
    assert normalize_boolean(raw) == (True, None)


@pytest.mark.parametrize("raw", ["no", "N", "false", "0", "off", "-", "нет", "НЕТ"])
def test_false_words(raw: str) -> None:
    assert normalize_boolean(raw) == (False, None)


def test_invalid_boolean_is_an_error() -> None:
    assert normalize_boolean("maybe")[1] is not None


# --- enum, list, json, string -----------------------------------------------------------------


def test_enum_matches_case_and_spacing_insensitively_to_the_canonical_value() -> None:
    assert normalize_enum("  GOLD ", ["Gold", "Silver"]) == ("Gold", None)
    assert normalize_enum("Платиновый  клиент", ["платиновый клиент"]) == (
        "платиновый клиент",
        None,
    )


def test_enum_outside_the_allowed_values_is_an_error() -> None:
    value, error = normalize_enum("bronze", ["Gold", "Silver"])

    assert value is None
    assert error is not None and "Gold, Silver" in error


def test_list_splits_on_commas_and_semicolons() -> None:
    assert normalize_list(" vip, newsletter;  sms ,,") == (["vip", "newsletter", "sms"], None)


def test_json_must_parse() -> None:
    assert normalize_json('{"a": [1, 2]}') == ({"a": [1, 2]}, None)
    assert normalize_json("{a: 1}")[1] is not None


def test_string_collapses_spaces_and_keeps_lines() -> None:
    raw = "  Иван\u00a0\u00a0 Петров \u200b\r\n  Москва\t "

    assert normalize_string(raw) == ("Иван Петров\nМосква", None)


# --- rows ------------------------------------------------------------------------------------

FIELDS = [
    FieldSpec("email", "string", identifier="email", required=True),
    FieldSpec("phone", "string", identifier="phone"),
    FieldSpec("born", "date"),
    FieldSpec("tier", "enum", enum_values=("Gold", "Silver")),
    FieldSpec("country", "string", default="RU"),
]


def test_a_good_row_is_clean() -> None:
    clean, errors = normalize_row(
        {"email": "A@B.ru", "phone": "8 916 123 45 67", "born": "01.02.1990", "tier": "gold"},
        FIELDS,
    )

    assert errors == []
    assert clean == {
        "email": "a@b.ru",
        "phone": "+79161234567",
        "born": dt.date(1990, 2, 1),
        "tier": "Gold",
        "country": "RU",
    }


def test_a_bad_row_lists_every_error_by_field() -> None:
    clean, errors = normalize_row({"email": "", "phone": "123", "born": "31.02.1990"}, FIELDS)

    assert [error.split(":")[0] for error in errors] == ["email", "phone", "born"]
    assert clean["email"] is None and clean["phone"] is None


def test_options_apply_to_every_row() -> None:
    normalise = RowNormalizer(FIELDS, NormalizeOptions(region="GB", dayfirst=False))

    clean, errors = normalise({"email": "a@b.ru", "phone": "020 7946 0958", "born": "02/01/1990"})

    assert errors == []
    assert clean["phone"] == "+442079460958"
    assert clean["born"] == dt.date(1990, 2, 1)


# --- fuzz: normalisers never raise -----------------------------------------------------------

any_text = st.one_of(st.none(), st.text(max_size=80))


@settings(max_examples=300, deadline=None)
@given(raw=any_text, kind=st.sampled_from(FIELD_TYPES), dayfirst=st.booleans())
def test_normalisers_never_raise(raw: str | None, kind: str, dayfirst: bool) -> None:
    spec = FieldSpec("f", kind, enum_values=("Gold", "Silver"))  # type: ignore[arg-type]
    value, error = normalizer_for(spec, NormalizeOptions(dayfirst=dayfirst))(raw)

    assert error is None or (value is None and isinstance(error, str))


numberish = st.text(alphabet="0123456789 ,.-+eE:/T\u00a0", max_size=30)


@settings(max_examples=300, deadline=None)
@given(raw=numberish, kind=st.sampled_from(["integer", "float", "date", "datetime", "phone"]))
def test_number_and_date_like_text_never_raises(raw: str, kind: str) -> None:
    spec = FieldSpec("f", kind)  # type: ignore[arg-type]
    value, error = normalizer_for(spec, NormalizeOptions())(raw)

    assert error is None or value is None


@settings(max_examples=200, deadline=None)
@given(values=st.dictionaries(st.sampled_from(["email", "phone", "born", "tier"]), any_text))
def test_normalize_row_never_raises_and_returns_every_field(
    values: dict[str, str | None],
) -> None:
    clean, errors = normalize_row(values, FIELDS)

    assert set(clean) == {spec.name for spec in FIELDS}
    assert all(isinstance(error, str) for error in errors)


phone_like = st.builds(
    lambda plus, prefix, digits, style: (
        ("+" if plus else "") + prefix + (" " if style else "") + digits
    ),
    plus=st.booleans(),
    prefix=st.sampled_from(["", "7", "8", "1", "44", "49", "0", "33", "39", "77"]),
    digits=st.from_regex(
        r"9[0-9]{9}|[1-9][0-9]{6,11}|\([0-9]{3}\) [0-9]{3}-[0-9]{2}-[0-9]{2}", fullmatch=True
    ),
    style=st.booleans(),
)


@settings(max_examples=1500, deadline=None)
@given(text=phone_like, region=st.sampled_from(["RU", "US", "DE", "FR", "IT", "GB", "KZ", "CA"]))
def test_the_fast_mobile_path_agrees_with_phonenumbers(text: str, region: str) -> None:
    fast = _mobile_fast(text, region)

    if fast is not None:
        assert (fast, None) == _phone_parsed(text, region)


@settings(max_examples=500, deadline=None)
@given(
    national=st.from_regex(r"[3489][0-9]{9}", fullmatch=True),
    layout=st.sampled_from(
        ["+7 {} {}-{}-{}", "8 ({}) {}-{}-{}", "7{}{}{}{}", "{}{}{}{}", "+7({}){}{}{}"]
    ),
)
def test_the_fast_path_agrees_on_russian_numbers_in_common_layouts(
    national: str, layout: str
) -> None:
    text = layout.format(national[:3], national[3:6], national[6:8], national[8:])

    assert normalize_phone(text) == _phone_parsed(text, "RU")


def test_the_fast_path_leaves_country_code_digits_that_may_be_national_to_phonenumbers() -> None:
    # phonenumbers keeps "49..." national in Germany when the whole number can be one.
    assert _mobile_fast("49(160) 000-00-00", "DE") is None
    assert normalize_phone("49(160) 000-00-00", "DE") == _phone_parsed("49(160) 000-00-00", "DE")


# --- batches: column by column is row by row -------------------------------------------------

BATCH_FIELDS = [
    *FIELDS,
    FieldSpec("points", "integer", default=0),
    FieldSpec("spent", "float"),
    FieldSpec("seen", "datetime"),
    FieldSpec("subscribed", "boolean", required=True),
    FieldSpec("tags", "list"),
    FieldSpec("extra", "json"),
]
cell_text = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "",
            " ",
            "A@B.ru",
            "not-an-email",
            "8 916 123 45 67",
            "123",
            "01.02.1990",
            "31.02.1990",
            "gold",
            "GOLD ",
            "bronze",
            "1 234,5",
            "12.5",
            "2024-05-01 10:00",
            "да",
            "maybe",
            "a, b; c",
            '{"b": 1, "a": [1]}',
            "{bad",
            "RU",
        ]
    ),
    st.text(max_size=20),
)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.fixed_dictionaries({spec.name: cell_text for spec in BATCH_FIELDS}), max_size=30
    ),
    dayfirst=st.booleans(),
)
def test_a_batch_normalised_by_columns_equals_its_rows_normalised_one_by_one(
    rows: list[dict[str, str | None]], dayfirst: bool
) -> None:
    options = NormalizeOptions(dayfirst=dayfirst)
    columns = {spec.name: [row[spec.name] for row in rows] for spec in BATCH_FIELDS[1:]}

    batch = RowNormalizer(BATCH_FIELDS, options).normalize_columns(columns, len(rows))

    one_by_one = RowNormalizer(BATCH_FIELDS, options)
    for index, row in enumerate(rows):
        clean, errors = one_by_one({name: row[name] for name in columns})  # no "email" column
        assert {name: values[index] for name, values in batch.values.items()} == clean
        assert batch.errors.get(index, []) == errors


def test_a_batch_can_be_encoded_as_it_is_normalised() -> None:
    normalise = RowNormalizer(FIELDS)

    batch = normalise.normalize_columns(
        {"email": ["A@B.ru", "A@B.ru", "bad"], "born": ["01.02.1990", None, None]},
        3,
        encode=lambda name, value: f"{name}={value}",
    )

    assert batch.values["email"] == ["email=a@b.ru", "email=a@b.ru", "email=None"]
    assert batch.values["born"] == ["born=1990-02-01", "born=None", "born=None"]
    assert batch.values["country"] == ["country=RU"] * 3
    assert list(batch.errors) == [2]
    assert batch.errors[2][0].startswith("email: invalid email")
