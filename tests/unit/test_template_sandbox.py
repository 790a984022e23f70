"""The template sandbox (herald/content/sandbox.py): attribute walking refused, time and
size limits per render, recursion ended with a sentence."""

from __future__ import annotations

import time

import pytest
from markupsafe import Markup, escape

from herald.content.sandbox import RenderLimits, escape_output
from herald.templates import MessageTemplate, MessageTemplateError


def render_subject(source: str, **options) -> str:
    return MessageTemplate.from_spec({"subject": source}, **options).render({"x": 1})["subject"]


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ self._TemplateReference__context }}",
        "{{ lipsum.__globals__ }}",
        "{{ range.__self__ }}",
        '{{ "{0.__class__}".format(x) }}',
        "{{ x['__class__'] }}",
        "{{ joiner.__call__.__globals__ }}",
    ],
)
def test_attribute_walking_is_refused_with_an_error_naming_the_part(source):
    with pytest.raises(MessageTemplateError, match=r"the subject part is refused: .* unsafe"):
        render_subject(source)


def test_a_dict_key_with_a_leading_underscore_is_still_data():
    template = MessageTemplate.from_spec({"subject": "{{ row._id }} {{ row['_id'] }}"})
    assert template.render({"row": {"_id": 7}})["subject"] == "7 7"


def test_methods_that_change_a_list_in_place_are_refused():
    with pytest.raises(MessageTemplateError, match="'append' of a 'list'"):
        render_subject("{{ [1, 2].append(3) }}")


def test_the_reserved_guard_name_cannot_be_used_by_a_template():
    with pytest.raises(MessageTemplateError, match="reserved"):
        MessageTemplate.from_spec({"html": "<p>\n{{ __herald_loop__(x) }}</p>"})


def test_a_huge_nested_loop_without_output_is_stopped():
    loops = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    started = time.monotonic()
    with pytest.raises(MessageTemplateError, match=r"the text part (took longer|went over)"):
        MessageTemplate.from_spec({"text": loops}).render({})
    assert time.monotonic() - started < 10  # a sanity bound, not a timing


def test_without_an_iteration_cap_the_time_limit_stops_the_loop():
    loops = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    template = MessageTemplate.from_spec(
        {"text": loops}, limits=RenderLimits(loop_iterations=10**15), time_limit=0.2
    )
    with pytest.raises(MessageTemplateError, match=r"took longer than 0\.2 s"):
        template.render({})


def test_the_default_time_limit_is_one_second_and_is_named_in_the_error():
    loops = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    template = MessageTemplate.from_spec(
        {"text": loops}, limits=RenderLimits(loop_iterations=10**15)
    )
    with pytest.raises(MessageTemplateError, match=r"took longer than 1\.0 s"):
        template.render({})


def test_a_loop_in_an_imported_macro_is_limited_too():
    template = MessageTemplate.from_spec(
        {"text": '{% import "blocks" as b %}{{ b.spin() }}'},
        fragments={
            "blocks": "{% macro spin() %}{% for i in range(100000) %}"
            "{% for j in range(100000) %}{% endfor %}{% endfor %}{% endmacro %}"
        },
    )
    with pytest.raises(MessageTemplateError, match="went over"):
        template.render({})


@pytest.mark.parametrize(
    "source",
    [
        '{{ "x" * 10**9 }}',
        "{{ [1] * 10**9 }}",
        "{{ 10**9 * 'x' }}",
        "{{ 'x'.center(10**9) }}",
        "{{ 'x'|center(10**9) }}",
        "{{ ('x' * 1000)|replace('x', 'x' * 1000)|replace('x', 'xx') }}",
        "{{ (['x' * 999999] * 1000)|join }}",
        "{% set s = 'x' * 999999 %}{{ s ~ s }}",
    ],
)
def test_building_a_huge_string_or_list_is_refused_before_it_is_built(source):
    with pytest.raises(MessageTemplateError, match=r"would build .* over the limit"):
        render_subject(source)


@pytest.mark.parametrize("source", ["{{ 9**(9**9) }}", "{{ (2**1000)**1000 }}"])
def test_huge_powers_are_refused(source):
    with pytest.raises(MessageTemplateError, match="power over"):
        render_subject(source)


@pytest.mark.parametrize("source", ['{{ "%999999999d" % 1 }}', '{{ "{:>999999999}".format(1) }}'])
def test_huge_format_widths_are_refused(source):
    with pytest.raises(MessageTemplateError, match="format width"):
        render_subject(source)


def test_a_string_doubled_in_a_loop_stops_at_the_size_limit():
    source = (
        "{% set ns = namespace(s='xx') %}{% for i in range(64) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}"
    )
    with pytest.raises(MessageTemplateError, match="over the limit"):
        render_subject(source)


def test_an_output_repeating_a_big_string_is_refused_as_it_grows():
    source = "{% set s = 'x' * 999999 %}{% for i in range(100000) %}{{ s }}{% endfor %}"
    with pytest.raises(MessageTemplateError, match="more than 1,000,000 characters"):
        render_subject(source)


def test_a_macro_body_over_the_limit_is_refused():
    source = (
        "{% macro big() %}{% for i in range(3) %}{{ 'x' * 999999 }}{% endfor %}{% endmacro %}"
        "{{ big()|length }}"
    )
    with pytest.raises(MessageTemplateError, match="over the limit"):
        render_subject(source)


@pytest.mark.parametrize(
    "source",
    [
        "{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}",
        "{% macro m(n) %}{{ m(n) }}{{ m(n) }}{% endmacro %}{{ m(1) }}",
    ],
)
def test_a_macro_calling_itself_without_end_is_a_clear_error(source):
    with pytest.raises(MessageTemplateError, match="calls a macro within itself too deeply"):
        render_subject(source)


def test_a_macro_calling_itself_with_an_end_works():
    source = (
        "{% macro down(n) %}{{ n }}{% if n %}{{ down(n - 1) }}{% endif %}{% endmacro %}"
        "{{ down(5) }}"
    )
    assert render_subject(source) == "543210"


def test_ordinary_templates_render_as_with_plain_jinja():
    source = (
        "{% for p in items %}{{ loop.index }}:{{ p.name|upper }}{% if not loop.last %}, "
        "{% endif %}{% else %}none{% endfor %} {{ 'a' * 3 }} {{ 2 ** 10 }} {{ '%05.1f' % 3.14159 }}"
    )
    template = MessageTemplate.from_spec({"subject": source})
    items = [{"name": "tea"}, {"name": "milk"}]
    assert template.render({"items": items})["subject"] == "1:TEA, 2:MILK aaa 1024 003.1"
    assert template.render({"items": []})["subject"] == "none aaa 1024 003.1"


def test_a_recursive_loop_renders_a_tree():
    source = "{% for n in tree recursive %}{{ n.name }}({{ loop(n.kids) }}){% endfor %}"
    tree = [{"name": "a", "kids": [{"name": "b", "kids": []}]}]
    template = MessageTemplate.from_spec({"subject": source})
    assert template.render({"tree": tree})["subject"] == "a(b())"


# --- the HTML part, which writes the derived text part in the same pass ------------------


class _Badge:
    def __html__(self) -> str:
        return "<b>gold</b>"


@pytest.mark.parametrize(
    "value",
    [
        "<a href='x'>&\"",
        "plain",
        5,
        -2.5,
        float("inf"),
        True,
        None,
        Markup("<i>ok</i>"),
        [1, "<"],
        _Badge(),
    ],
)
def test_html_output_is_escaped_exactly_as_markupsafe_escapes(value):
    assert escape_output(value) == str(escape(value))


def test_attribute_walking_is_refused_in_an_html_part_and_its_fragments():
    fragments = {"footer": "<p>{{ x.__class__ }}</p>"}
    for html in ("<p>{{ x.__class__ }}</p>", "<p>Hi</p>{% include 'footer' %}"):
        template = MessageTemplate.from_spec({"html": html}, fragments=fragments)
        with pytest.raises(MessageTemplateError, match=r"the html part is refused: .*unsafe"):
            template.render({"x": 1})


def test_a_loop_in_an_html_part_is_counted_against_the_iteration_cap():
    template = MessageTemplate.from_spec(
        {"html": "<ul>{% for i in range(n) %}<li>{{ i }}</li>{% endfor %}</ul>"},
        limits=RenderLimits(loop_iterations=1_000),
    )
    assert template.render({"n": 3})["text"].split() == ["*", "0", "*", "1", "*", "2"]
    with pytest.raises(MessageTemplateError, match="the html part went over 1,000 loop"):
        template.render({"n": 5_000})


def test_an_html_part_growing_past_the_size_limit_is_refused():
    template = MessageTemplate.from_spec(
        {"html": "<p>{% for i in range(n) %}{{ word }}{% endfor %}</p>"},
        limits=RenderLimits(output_chars=10_000),
    )
    with pytest.raises(MessageTemplateError, match="the html part renders to more than 10,000"):
        template.render({"n": 10_000, "word": "<>"})
