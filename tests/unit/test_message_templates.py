"""Message templates (herald/templates.py): parts per channel, rendered in a sandbox."""

from __future__ import annotations

import pytest

from herald.templates import (
    MAX_OUTPUT_CHARS,
    MessageTemplate,
    MessageTemplateError,
    referenced_fragments,
)


def test_parts_are_rendered_with_the_recipients_fields_and_html_is_escaped():
    template = MessageTemplate.from_spec(
        {"subject": "Hi {{ first_name }}", "html": "<p>{{ first_name }}</p>", "from": "a@b.c"}
    )
    parts = template.render({"first_name": "<Anna>"})
    assert parts["subject"] == "Hi <Anna>"
    assert parts["html"] == "<p>&lt;Anna&gt;</p>"
    assert parts["from"] == "a@b.c"


def test_a_text_part_is_derived_from_the_html_once_keeping_the_template():
    template = MessageTemplate.from_spec(
        {
            "html": "<table><tr><td>Hello {{ name }}</td><td>{% if vip %}VIP{% endif %}</td>"
            "</tr></table>"
        }
    )
    text = template.render({"name": "Anna", "vip": True})["text"]
    assert text.startswith("Hello Anna") and "VIP" in text
    assert all(line == line.rstrip() for line in text.splitlines())


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ first_name.__class__.__name__ }}",
    ],
)
def test_attribute_walking_is_refused_by_the_sandbox(source):
    template = MessageTemplate.from_spec({"subject": source})
    try:
        rendered = template.render({"first_name": "Anna"})["subject"]
    except MessageTemplateError as exc:
        assert "unsafe" in str(exc) or "undefined" in str(exc)
    else:  # an unsafe attribute is undefined: it renders as nothing
        assert rendered == ""


def test_an_output_over_the_limit_is_an_error_not_a_huge_message():
    loops = "{% for i in range(n) %}{% for j in range(n) %}xx{% endfor %}{% endfor %}"
    template = MessageTemplate.from_spec({"text": loops})
    with pytest.raises(MessageTemplateError, match="over the limit"):
        template.render({"n": int((MAX_OUTPUT_CHARS / 2) ** 0.5) + 1})


def test_a_missing_field_renders_empty_unless_strict():
    assert MessageTemplate.from_spec({"subject": "Hi {{ x }}!"}).render({})["subject"] == "Hi !"
    strict = MessageTemplate.from_spec({"subject": "Hi {{ x }}!"}, strict=True)
    with pytest.raises(MessageTemplateError, match="'x' is undefined"):
        strict.render({})


def test_a_template_that_does_not_compile_names_its_line():
    with pytest.raises(MessageTemplateError, match=r"does not compile \(line 2\)"):
        MessageTemplate.from_spec({"html": "<p>\n{% if %}</p>"})


def test_unknown_parts_are_refused():
    with pytest.raises(MessageTemplateError, match="unknown template parts: sbject"):
        MessageTemplate.from_spec({"sbject": "typo"})


def test_webhook_bodies_and_telegram_buttons_render_every_string():
    template = MessageTemplate.from_spec(
        {
            "body": {"hello": "{{ name }}", "n": 3, "tags": ["{{ city }}", "x"]},
            "buttons": [[{"text": "Hi {{ name }}", "url": "https://x.example/{{ id }}"}]],
        }
    )
    parts = template.render({"name": "Anna", "city": "Kazan", "id": 7})
    assert parts["body"] == {"hello": "Anna", "n": 3, "tags": ["Kazan", "x"]}
    assert parts["buttons"] == [[{"text": "Hi Anna", "url": "https://x.example/7"}]]


def test_fragments_are_included_imported_and_escaped_like_the_part():
    fragments = {
        "footer": "<p>{{ shop }}</p>",
        "blocks": '{% macro button(url, label) %}<a href="{{ url }}">{{ label }}</a>{% endmacro %}',
    }
    template = MessageTemplate.from_spec(
        {
            "html": '{% import "blocks" as b %}{% from "blocks" import button %}'
            '{{ b.button("https://x.example", "Go") }}{{ button("/y", name) }}'
            '{% include "footer" %}'
        },
        fragments=fragments,
    )
    parts = template.render({"shop": "A&B", "name": "<Anna>"})
    assert parts["html"] == (
        '<a href="https://x.example">Go</a><a href="/y">&lt;Anna&gt;</a><p>A&amp;B</p>'
    )
    assert parts["text"].split() == ["Go<Anna>A&B"]  # the text part is not escaped


def test_the_derived_text_part_includes_the_text_of_html_fragments():
    template = MessageTemplate.from_spec(
        {"html": '<p>Hi</p>{% include "footer" %}'}, fragments={"footer": "<p><b>Shop</b></p>"}
    )
    text = template.render({})["text"]
    assert "Shop" in text and "<b>" not in text


def test_a_missing_fragment_is_a_compile_error_naming_it():
    with pytest.raises(MessageTemplateError, match="uses fragment 'footer', which is not given"):
        MessageTemplate.from_spec({"html": '{% include "footer" %}'}, fragments={"header": "x"})
    with pytest.raises(MessageTemplateError, match="'inner' \\(through fragment 'outer'\\)"):
        MessageTemplate.from_spec(
            {"text": '{% include "outer" %}'}, fragments={"outer": '{% include "inner" %}'}
        )


def test_a_fragment_that_does_not_compile_is_named_with_its_line():
    with pytest.raises(
        MessageTemplateError, match=r"fragment 'footer' does not compile \(line 2\)"
    ):
        MessageTemplate.from_spec(
            {"text": '{% include "footer" %}'}, fragments={"footer": "ok\n{% if %}"}
        )


def test_referenced_fragments_follows_includes_through_the_fragments():
    parts = {
        "html": '{% include "footer" %}{% from "blocks" import button %}',
        "body": {"x": '{% include "hook" %}'},
        "subject": "{% include name %}",  # computed at render time: cannot be known
    }
    assert referenced_fragments(parts) == {"footer", "blocks", "hook"}
    fragments = {"footer": '{% include "legal" %}', "legal": "(c)"}
    assert referenced_fragments(parts, fragments) == {"footer", "blocks", "hook", "legal"}


def test_push_parts_are_known_text_parts():
    template = MessageTemplate.from_spec(
        {
            "title": " Hi {{ name }} ",
            "text": "Sale",
            "image": "https://x.example/i.png",
            "deep_link": "shop://item/{{ id }}",
        }
    )
    assert template.render({"name": "Anna", "id": 7}) == {
        "title": "Hi Anna",
        "text": "Sale",
        "image": "https://x.example/i.png",
        "deep_link": "shop://item/7",
    }


def test_the_time_limit_covers_one_render_call():
    template = MessageTemplate.from_spec({"subject": "{{ name }}"}, time_limit=0.5)
    assert template.limits.time_seconds == 0.5
    assert [template.render({"name": n})["subject"] for n in ("a", "b")] == ["a", "b"]
