"""Template validation (herald/content/validation.py): problems with part and line."""

from __future__ import annotations

from herald.content.validation import TemplateProblem, validate_template

EMAIL = {"subject": "Hi {{ first_name }}", "from": "news@shop.example", "html": "<p>Hi</p>"}


def errors(problems: list[TemplateProblem]) -> list[TemplateProblem]:
    return [problem for problem in problems if problem.severity == "error"]


def test_a_good_email_template_has_no_problems():
    assert validate_template(EMAIL, channel="email", fields={"first_name"}) == []


def test_a_syntax_error_is_reported_on_the_parts_own_line():
    html = "<p>Hello</p>\n<p>{{ first_name }}</p>\n{% if %}\n"
    [problem] = validate_template({**EMAIL, "html": html}, channel="email")
    assert (problem.part, problem.line, problem.severity) == ("html", 3, "error")
    assert problem.message.startswith("syntax error")
    assert problem.public() == {
        "part": "html",
        "line": 3,
        "message": problem.message,
        "severity": "error",
    }


def test_a_syntax_error_in_a_fragment_names_the_fragment_and_its_line():
    parts = {**EMAIL, "html": '{% include "footer" %}'}
    [problem] = validate_template(parts, channel="email", fragments={"footer": "a\nb\n{{ x + }}"})
    assert (problem.part, problem.line) == ("fragment:footer", 3)
    assert "in fragment 'footer'" in problem.message


def test_a_missing_fragment_is_an_error_on_the_line_that_uses_it():
    parts = {**EMAIL, "html": '<p>Hi</p>\n{% include "footer" %}'}
    [problem] = validate_template(parts, channel="email", fragments={})
    assert (problem.part, problem.line, problem.severity) == ("html", 2, "error")
    assert "fragment 'footer' is used but not given" in problem.message


def test_parts_the_channel_does_not_have_and_parts_it_needs():
    problems = validate_template({"text": "Hi", "subject": "x"}, channel="sms")
    assert [(p.part, p.severity) for p in problems] == [("subject", "error")]
    missing = validate_template({"html": "<p>Hi</p>"}, channel="email")
    assert sorted(p.part for p in missing) == ["from", "subject"]
    assert [p.part for p in validate_template({}, channel="push")] == ["title or text"]
    assert validate_template({"title": "Sale"}, channel="push") == []
    assert [p.part for p in validate_template({}, channel="telegram")] == ["text"]


def test_unknown_fields_are_warnings_with_their_line():
    source = (
        "Hi {{ frist_name }}\n{% for p in data.recs %}{{ p.name }} {{ loop.index }}{% endfor %}"
        "\n{{ city }} {{ profile_id }} {{ coupon }} {{ plural(2, 'a', 'b') }}"
    )
    problems = validate_template(
        {"text": source}, channel="sms", fields={"first_name", "city"}, data_names={"coupon"}
    )
    assert [(p.part, p.line, p.severity) for p in problems] == [("text", 1, "warning")]
    assert "unknown field 'frist_name'" in problems[0].message


def test_fields_are_not_checked_when_not_given():
    assert validate_template({"text": "{{ anything }}"}, channel="sms") == []


def test_unknown_fields_in_fragments_are_reported_in_the_fragment():
    problems = validate_template(
        {"text": '{% include "sig" %}'}, channel="sms", fields=(), fragments={"sig": "\n{{ y }}"}
    )
    assert [(p.part, p.line, p.severity) for p in problems] == [("fragment:sig", 2, "warning")]


def test_an_sms_over_ten_segments_is_a_warning_with_the_count():
    [problem] = validate_template({"text": "я" * (67 * 11)}, channel="sms")
    assert problem.severity == "warning" and "the SMS is 11 segments" in problem.message
    [templated] = validate_template({"text": "{{ name }}" + "a" * 1600}, channel="sms")
    assert "at least 11 segments" in templated.message


def test_a_constant_telegram_text_over_4096_characters_is_an_error():
    [problem] = validate_template({"text": "x" * 4097}, channel="telegram")
    assert problem.severity == "error" and "4,096" in problem.message
    assert validate_template({"text": "{{ x }}" + "x" * 4097}, channel="telegram") == []


def test_webhook_body_strings_are_checked_with_their_path():
    [problem] = validate_template({"body": {"a": ["ok", "{{ x"]}}, channel="webhook")
    assert (problem.part, problem.line) == ("body.a[1]", 1)


def test_an_unknown_channel_is_an_error():
    [problem] = validate_template({"text": "x"}, channel="fax")
    assert "unknown channel 'fax'" in problem.message
