"""Person keys of unification: the Python side that sees only distinct spellings."""

from __future__ import annotations

from herald.unify.keys import city_keys_table, name_keys_table
from herald.unify.names import skeleton
from herald.unify.nicknames import canonical_given, given_forms


def test_an_ambiguous_diminutive_keeps_both_full_forms() -> None:
    assert given_forms(skeleton("Саша")) == ("aleksandr", "aleksandra")
    assert given_forms(skeleton("Женя")) == (skeleton("Евгений"), skeleton("Евгения"))


def test_a_full_name_or_an_unknown_name_is_its_own_only_form() -> None:
    assert given_forms(skeleton("Александра")) == ("aleksandra", "aleksandra")
    assert given_forms("zzyzx") == ("zzyzx", "zzyzx")


def test_blocking_uses_the_first_full_form() -> None:
    assert canonical_given(skeleton("Вася")) == skeleton("Василий")
    assert skeleton("Василиса") in given_forms(skeleton("Вася"))


def test_name_keys_give_each_spelling_its_skeleton_and_full_forms() -> None:
    table = name_keys_table(["Юлия", "Iuliia", "Саша"]).to_pylist()

    assert table == [
        {"name": "Юлия", "name_key": "ula", "canon": "ula", "canon_alt": "ula"},
        {"name": "Iuliia", "name_key": "ula", "canon": "ula", "canon_alt": "ula"},
        {"name": "Саша", "name_key": "sasha", "canon": "aleksandr", "canon_alt": "aleksandra"},
    ]


def test_city_keys_join_scripts_prefixes_and_exonyms() -> None:
    table = city_keys_table(["г. Москва", "Moscow", "москва", "Тула"]).to_pylist()

    assert [row["city_key"] for row in table] == ["moskva", "moskva", "moskva", "tula"]
