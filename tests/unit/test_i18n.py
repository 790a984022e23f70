"""Every message a marketer reads exists in Russian, and composed reasons translate part by
part."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

from herald.i18n import catalog, language_of, translate, translate_reason
from herald.imports.normalize import normalize_date, normalize_email, normalize_phone

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def marked_messages() -> set[str]:
    """The messages marked with N_ in herald/, ui/ and tracking/, and the web UI templates'
    `_("...")`, as `make i18n` extracts them (babel.cfg)."""
    found: set[str] = set()
    for folder in ("herald", "ui", "tracking"):
        for _, _, message, _, _ in extract_from_dir(
            ROOT / folder, method_map=[("**.py", "python")], keywords={"N_": None}
        ):
            found.add(message)
    for _, _, message, _, _ in extract_from_dir(
        ROOT / "ui" / "web" / "templates",
        method_map=[("**.html", "jinja2")],
        keywords={"_": None},
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_marked_message_has_a_russian_translation_with_the_same_placeholders() -> None:
    messages = marked_messages()
    assert len(messages) >= 30  # the extraction found the marks
    russian = catalog("ru")
    missing = sorted(messages - russian.keys())
    assert missing == [], f"translate these in herald/locale/ru/LC_MESSAGES/herald.po: {missing}"
    stale = sorted(russian.keys() - messages)
    assert stale == [], f"no code marks these any more (make i18n drops them): {stale}"
    for message in messages:
        assert sorted(PLACEHOLDER.findall(russian[message])) == sorted(
            PLACEHOLDER.findall(message)
        ), message
        assert re.search("[а-яё]", russian[message], re.IGNORECASE) or message.startswith("{")


@pytest.mark.parametrize(
    ("reason", "russian"),
    [
        (
            f"email: {normalize_email('ivan.mail.ru')[1]}",
            "email: неверный адрес e-mail: В адресе e-mail должен быть знак @.",
        ),
        (
            f"phone: {normalize_phone('+7 999 000')[1]}; "
            f"birthday: {normalize_date('31.13.2020')[1]}",
            "phone: неверный номер телефона: такого номера не существует; "
            "birthday: неверная дата: месяц должен быть от 1 до 12",
        ),
        (
            f"email: {normalize_email('ivan petrov@mail.ru')[1]}",
            "email: неверный адрес e-mail: В адресе e-mail недопустимые символы перед знаком @: "
            "SPACE.",
        ),
        (
            f"phone: {normalize_phone('hello')[1]}",
            "phone: неверный номер телефона: Строка не похожа на номер телефона.",
        ),
        (
            "orders: invalid integer: '1.5' is not a whole number",
            "orders: неверное целое число: '1.5' — не целое число",
        ),
        ("row has 3 cells, the header has 5", "в строке ячеек: 3, в заголовке: 5"),
        ("insert only: the profile already exists", "только новые: профиль уже существует"),
    ],
)
def test_reasons_translate_part_by_part(reason: str, russian: str) -> None:
    assert translate_reason(reason, "ru") == russian
    assert translate_reason(reason, "en") == reason


def test_unknown_text_stays_as_it_is_inside_a_translated_reason() -> None:
    assert translate_reason("email: invalid email: Something new.", "ru") == (
        "email: неверный адрес e-mail: Something new."
    )
    assert translate_reason("no template at all", "ru") == "no template at all"
    assert translate("required but empty", "ru") == "обязательное поле не заполнено"
    assert translate("not in the catalog", "ru") == "not in the catalog"


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "en"),
        ("", "en"),
        ("ru", "ru"),
        ("ru-RU,ru;q=0.9,en-US;q=0.8", "ru"),
        ("en-GB,en;q=0.9,ru;q=0.8", "en"),
        ("de-DE,ru;q=0.5", "ru"),
        ("fr", "en"),
        ("en;q=0.1,ru;q=0.9", "ru"),
    ],
)
def test_the_language_of_an_accept_language_header(header: str | None, language: str) -> None:
    assert language_of(header) == language


def test_a_russian_speaking_user_gets_the_rejected_rows_in_russian(tmp_path: Path) -> None:
    import csv
    import json

    from tests.support.cli import run_herald

    home = tmp_path / "home"
    assert run_herald(["db", "apply", "--schema", "docs/schemas/shop.yml"], home).returncode == 0
    clients = tmp_path / "clients.csv"
    clients.write_text("id,email,level\n1,ivan.mail.ru,gold\n2,anna@example.com,gold\n")
    done = run_herald(
        ["import", str(clients), "--db", "shop", "--key", "id", "--no-load"],
        home,
        env={"HERALD_LANGUAGE": "ru"},
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["accepted"], summary["rejected"]) == (1, 1)
    report = Path(summary["report"])
    assert report.name.endswith(".ru.csv") and report.with_name("rejected.csv").is_file()
    with report.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["reason"] for row in rows] == [
        "email: неверный адрес e-mail: В адресе e-mail должен быть знак @."
    ]
    wrong = run_herald(["db", "list"], home, env={"HERALD_LANGUAGE": "de"})
    assert wrong.returncode != 0 and "Traceback" not in wrong.stderr
    assert wrong.stderr == "herald: HERALD_LANGUAGE: use one of en, ru\n"
