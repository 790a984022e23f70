"""Message templates (herald/templates.py): parts per channel, rendered in a sandbox."""

from __future__ import annotations

import pytest

from herald.content.sandbox import RenderLimits
from herald.templates import (
    MAX_OUTPUT_CHARS,
    MessageTemplate,
    MessageTemplateError,
    html_to_text,
    referenced_fragments,
    text_template_from_html,
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


# --- the text part derived from the HTML ------------------------------------------------

PRODUCTS = [{"title": "Mug", "price": 5}, {"title": "Hat & scarf", "price": 7}]


def html_and_text(html: str, context: dict, fragments: dict | None = None) -> tuple[str, str]:
    parts = MessageTemplate.from_spec({"html": html}, fragments=fragments).render(context)
    return parts["html"], parts["text"]


def lines(text: str) -> list[str]:
    """The lines a reader sees: blank lines and the padding that lines up table cells
    (which depends on the data) left out."""
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def test_a_loop_between_table_rows_writes_one_text_line_per_row():
    html, text = html_and_text(
        "<table>{% for p in products %}<tr><td>{{ p.title }}</td><td>{{ p.price }}</td></tr>"
        "{% endfor %}</table>",
        {"products": PRODUCTS},
    )
    assert text == "Mug  5\nHat & scarf  7\n"
    assert lines(text) == lines(html_to_text(html))


def test_a_loop_between_the_cells_of_a_row_stays_in_the_row():
    _, text = html_and_text(
        "<table><tr><th>Sizes</th>{% for s in sizes %}<td>{{ s }}</td>{% endfor %}</tr></table>",
        {"sizes": ["S", "M", "L"]},
    )
    assert text.split() == ["Sizes", "S", "M", "L"]
    assert len(text.splitlines()) == 1


@pytest.mark.parametrize("vip", [True, False])
def test_a_condition_around_table_rows_shows_the_rows_only_when_it_holds(vip):
    html, text = html_and_text(
        "<table><tr><td>Order 42</td></tr>{% if vip %}<tr><td>Gift for {{ name }}</td></tr>"
        "{% else %}<tr><td>No gift</td></tr>{% endif %}<tr><td>Thanks</td></tr></table>",
        {"vip": vip, "name": "Anna"},
    )
    assert text == ("Order 42\nGift for Anna\nThanks\n" if vip else "Order 42\nNo gift\nThanks\n")
    assert lines(text) == lines(html_to_text(html))


def test_an_include_between_table_rows_writes_the_fragments_rows_in_place():
    html, text = html_and_text(
        "<table><tr><td>Top</td></tr>{% for p in products %}{% include 'row' %}{% endfor %}"
        "<tr><td>Bottom</td></tr></table>",
        {"products": PRODUCTS},
        {"row": "<tr><td>{{ p.title }}</td><td>{{ p.price }} RUB</td></tr>"},
    )
    assert lines(text) == ["Top", "Mug 5 RUB", "Hat & scarf 7 RUB", "Bottom"]
    assert lines(text) == lines(html_to_text(html))


def test_nested_loops_in_nested_tables_keep_each_recipients_rows():
    source = (
        "<table>{% for order in orders %}<tr><td>Order {{ order.id }}</td></tr>"
        "<tr><td><table>{% for line in order.lines %}<tr><td>{{ line }}</td></tr>{% endfor %}"
        "</table></td></tr>{% endfor %}</table>"
    )
    orders = [{"id": 1, "lines": ["tea", "milk"]}, {"id": 2, "lines": ["bread"]}]
    html, text = html_and_text(source, {"orders": orders})
    assert lines(text) == ["Order 1", "tea", "milk", "Order 2", "bread"]
    assert lines(text) == lines(html_to_text(html))
    assert lines(html_and_text(source, {"orders": []})[1]) == []


@pytest.mark.parametrize("items", [[], ["tea", "milk"]])
def test_a_loop_over_lines_in_one_cell_keeps_the_other_cells_text_out_of_it(items):
    html, text = html_and_text(
        "<table><tr><td>{% for i in items %}{{ i }}<br>{% endfor %}</td><td>Total</td></tr>"
        "</table>",
        {"items": items},
    )
    assert sorted(text.split()) == sorted(html_to_text(html).split()) == sorted([*items, "Total"])


def test_text_is_not_escaped_and_html_is():
    html, text = html_and_text("<p>{{ name }} &amp; {{ n }}</p>", {"name": "<Anna>", "n": 2.5})
    assert html == "<p>&lt;Anna&gt; &amp; 2.5</p>"
    assert text == "<Anna> & 2.5\n"


def test_an_html_value_shows_as_its_text_in_the_text_part():
    from markupsafe import Markup

    _, text = html_and_text("<p>{{ note|safe }}</p>", {"note": "<b>Sale</b> today"})
    assert text == "Sale today\n"
    _, text = html_and_text("<p>{{ note }}</p>", {"note": Markup("<i>Sale</i>")})
    assert text == "Sale\n"


def test_a_statement_in_the_head_or_an_attribute_still_runs_for_the_text():
    html, text = html_and_text(
        '<html><head><title>{% set greeting = "Hello" %}</title></head><body>'
        '<a href="/u/{{ id }}" class="{% if vip %}vip{% endif %}">{{ greeting }}, {{ name }}</a>'
        "</body></html>",
        {"id": 7, "vip": True, "name": "Anna"},
    )
    assert 'href="/u/7" class="vip"' in html
    assert text == "Hello, Anna\n"


def test_a_tag_the_layout_cannot_keep_in_place_is_converted_per_recipient():
    # the {% else %} is in the text, its {% if %} and {% endif %} inside an attribute
    source = '<a href="{% if member %}/club">Club</a>{% else %}/join">Join</a>{% endif %}'
    with pytest.raises(MessageTemplateError, match="cannot be derived"):
        text_template_from_html(source)
    assert html_and_text(source, {"member": True}) == ('<a href="/club">Club</a>', "Club\n")
    assert html_and_text(source, {"member": False}) == ('<a href="/join">Join</a>', "Join\n")


def test_the_derived_text_template_keeps_loops_around_table_rows():
    template = text_template_from_html(
        "<table>{% for p in products %}<tr><td>{{ p.title }}</td></tr>{% endfor %}</table>"
    )
    assert template == "{% for p in products %}{{ p.title }}\n{% endfor %}"


def test_a_recursive_loop_in_html_derives_its_text_too():
    html, text = html_and_text(
        "<ul>{% for n in tree recursive %}<li>{{ n.name }}<ul>{{ loop(n.kids) }}</ul></li>"
        "{% endfor %}</ul>",
        {"tree": [{"name": "a", "kids": [{"name": "b", "kids": []}]}]},
    )
    assert "<li>a<ul><li>b<ul></ul></li></ul></li>" in html
    assert text.split() == ["*", "a", "*", "b"]


def test_a_text_part_over_the_limit_is_refused_with_the_html():
    template = MessageTemplate.from_spec(
        {"html": "<p>{% for i in range(n) %}{{ word }} {% endfor %}</p>"},
        limits=RenderLimits(output_chars=1_000),
    )
    assert lines(template.render({"n": 10, "word": "ok"})["text"]) == ["ok " * 9 + "ok"]
    with pytest.raises(MessageTemplateError, match="over the limit"):
        template.render({"n": 200, "word": "long"})


def test_every_part_of_an_e_mail_is_rendered_for_each_recipient_alone():
    template = MessageTemplate.from_spec(
        {"subject": "Hi {{ name }}", "html": "<p>{{ name }}</p>{% include 'f' %}"},
        fragments={"f": "<p>{{ city }}</p>"},
    )
    first = template.render({"name": "Anna", "city": "Kazan"})
    second = template.render({"name": "Ivan"})
    assert (first["subject"], lines(first["text"])) == ("Hi Anna", ["Anna", "Kazan"])
    assert (second["subject"], second["html"], lines(second["text"])) == (
        "Hi Ivan",
        "<p>Ivan</p><p></p>",
        ["Ivan"],
    )
