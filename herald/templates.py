"""Message templates: a message's parts per channel, rendered per recipient in a sandbox.

    template = MessageTemplate.from_spec({"subject": "Hi {{ first_name }}",
                                          "html": "<p>Hello {{ first_name }}</p>"
                                                  "{% include 'footer' %}",
                                          "from": "news@shop.example"},
                                         fragments={"footer": "<p>Shop</p>"},
                                         time_limit=1.0)
    parts = template.render({"first_name": "Anna", "profile_id": "p1"}, locale="ru")
    # {"subject": "Hi Anna", "html": "<p>Hello Anna</p><p>Shop</p>", "text": "Hello Anna...", ...}
    referenced_fragments(spec, fragments)  # {"footer"}: what a campaign resolves and freezes

Parts by channel (`CHANNEL_PARTS`): e-mail `subject`, `preheader`, `html`, `text`, `from`,
`from_name`, `reply_to`; SMS `text`; Telegram `text`, `parse_mode`, `buttons`; push `title`,
`text`, `image`, `deep_link`; a webhook `body` (a JSON document whose string values are
templates). Every string part is a Jinja2 template run in herald.content.sandbox's
`TemplateSandbox` (rule 5): attribute walking (`__class__`, `mro`, ...) is refused, each
render has a time limit (`RenderLimits.time_seconds`, default 1 s, per recipient and render
call, all parts together), a cap on loop iterations, and an output of at most
`RenderLimits.output_chars` per part. HTML is autoescaped; the other parts are not.
Locale-aware filters (`date`, `datetime`, `number`, `currency`, `percent`, `plural`) come
from herald.content.filters; the locale is `render(..., locale=)`, else the recipient's
`language` when it is 'en' or 'ru', else 'en'.

Fragments are named sources a part uses with `{% include "footer" %}`,
`{% import "blocks" as b %}` or `{% from "blocks" import button %}`, compiled in the same
sandbox; a fragment named by a part but not given is an error when the template is compiled.

When an e-mail has HTML and no text part, a text template is derived once from the HTML
template (inscriptis lays it out, every Jinja statement kept in its place: a statement
between table rows becomes a row of its own), and so are the fragments it includes
(`text_template_from_html`). The text part is then, cheapest first:

- written by the HTML template itself in the same pass (each `{{ ... }}` evaluated once,
  escaped for the HTML, as is for the text), when the derived template has the HTML's
  statements in order and the template uses only `for`, `if`, `set` and `include` and no
  filter making HTML values (`safe`, `e`, `tojson`, ...); a recipient whose data holds an
  HTML value (a Markup) gets the text template rendered instead;
- else the derived text template, rendered after the HTML (macros, imports, ...);
- else, when the layout would move a tag out of its place (`{% raw %}`, a block split
  across an attribute and text), each recipient's rendered HTML converted (`html_to_text`).

An HTML value in the text (`{{ note|safe }}`) is written as its text, not as markup.

Checking a template before it is saved, with line numbers, is herald.content.validation.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError

from herald.content.filters import FILTERS, FUNCTIONS, locale_for
from herald.content.sandbox import (
    _BUDGET,
    RenderBudget,
    RenderLimitError,
    RenderLimits,
    TemplateSandbox,
    TextPairing,
    TextSink,
    output_children,
    render_in_context,
)
from herald.errors import HeraldError

MAX_OUTPUT_CHARS = RenderLimits.output_chars
TEXT_PARTS = (
    "subject",
    "text",
    "from",
    "from_name",
    "reply_to",
    "preheader",
    "parse_mode",
    "title",
    "image",
    "deep_link",
)
TREE_PARTS = ("buttons", "body")
CHANNEL_PARTS: dict[str, tuple[str, ...]] = {
    "email": ("subject", "preheader", "html", "text", "from", "from_name", "reply_to"),
    "sms": ("text",),
    "telegram": ("text", "parse_mode", "buttons"),
    "push": ("title", "text", "image", "deep_link"),
    "webhook": ("body",),
}
META_PARTS = ("channel", "topic")  # carried in a message file beside the parts, not rendered
_ANY_PARTS = frozenset((*TEXT_PARTS, "html", *TREE_PARTS, *META_PARTS))
_JINJA = re.compile(r"({{.*?}}|{%.*?%})", re.DOTALL)
_BLANK_LINES = re.compile(r"\n{3,}")


class MessageTemplateError(HeraldError):
    """A template that does not compile, or fails or overflows when rendered."""


@dataclass
class MessageTemplate:
    spec: dict[str, Any]
    strict: bool = False  # a missing field is an error (True) or renders empty (False)
    fragments: dict[str, str] = field(default_factory=dict)
    limits: RenderLimits = field(default_factory=RenderLimits)
    _compiled: dict[str, Any] = field(default_factory=dict, repr=False)
    _globals: dict[str, Any] = field(default_factory=dict, repr=False)
    _paired: bool = field(default=False, repr=False)  # the html part writes the text part

    @classmethod
    def from_spec(
        cls,
        spec: Mapping[str, Any],
        *,
        strict: bool = False,
        fragments: Mapping[str, str] | None = None,
        limits: RenderLimits | None = None,
        time_limit: float | None = None,
    ) -> MessageTemplate:
        """Compile a template's parts; `time_limit` (seconds) overrides `limits`' time."""
        unknown = sorted(set(spec) - _ANY_PARTS)
        if unknown:
            raise MessageTemplateError(
                f"unknown template parts: {', '.join(unknown)}; "
                f"known: {', '.join(sorted(_ANY_PARTS))}"
            )
        limits = limits or RenderLimits()
        if time_limit is not None:
            limits = dataclasses.replace(limits, time_seconds=time_limit)
        template = cls(dict(spec), strict, dict(fragments or {}), limits)
        template._compile()
        return template

    def _environment(
        self,
        autoescape: bool,
        fragments: Mapping[str, str],
        pairings: Mapping[str, TextPairing] | None = None,
        derived: bool = False,
    ) -> TemplateSandbox:
        return TemplateSandbox(
            autoescape=autoescape,
            strict=self.strict,
            limits=self.limits,
            fragments=fragments,
            filters=FILTERS,
            functions=FUNCTIONS,
            text_pairings=pairings,
            html_as_text=_inline_text if derived else None,
        )

    def _compile(self) -> None:
        plain = self._environment(False, self.fragments)
        # every environment here has the same globals: a render copies them with the
        # recipient's fields once, into one Jinja context all parts share
        self._globals = dict(plain.globals)
        name = ""
        try:
            for name in TEXT_PARTS:
                value = self.spec.get(name)
                if isinstance(value, str):
                    self._compiled[name] = self._compile_part(plain, name, value)
            html = self.spec.get("html")
            if isinstance(html, str):
                name = "html"
                html_env = self._environment(True, self.fragments)
                self._compiled["html"] = self._compile_part(html_env, name, html)
                if not isinstance(self.spec.get("text"), str):
                    self._compile_derived_text(html, html_env)
            for name in TREE_PARTS:
                if name in self.spec:
                    self._compiled[name] = self._compile_tree(plain, name, self.spec[name])
        except TemplateError as exc:
            raise MessageTemplateError(_compile_message(name, exc)) from None

    def _compile_derived_text(self, html: str, html_env: TemplateSandbox) -> None:
        """The text part of an e-mail without one, in the cheapest form that is correct:

        1. paired: the HTML template writes the text beside its output in the same pass
           (every `{{ ... }}` evaluated once), when the derived text template has the
           HTML's statements in the same order and uses nothing that makes HTML values;
        2. template: the text template derived from the HTML, rendered after it;
        3. converted: each recipient's rendered HTML through inscriptis, when the layout
           would move a Jinja tag out of its place (`{% raw %}`, a block split between an
           attribute and the text) or the derived template does not compile.
        """
        name = "text (derived from html)"
        if type(self._compiled["html"]) is _Constant:
            self._compiled["text"] = _Constant(html_to_text(html))
            return
        sources = self._html_sources(html)
        derivations = {key: _derive_text(source) for key, source in sources.items()}
        if any(derivation.template is None for derivation in derivations.values()):
            self._compiled["text"] = _CONVERTED
            return
        derived = {
            key: derivation.template
            for key, derivation in derivations.items()
            if key is not None and derivation.template is not None
        }
        text_env = self._environment(False, derived, derived=True)
        template = derivations[None].template
        assert template is not None
        try:
            self._compiled["text"] = self._compile_part(text_env, name, template)
        except (TemplateError, MessageTemplateError):
            self._compiled["text"] = _CONVERTED
            return
        pairings = {}
        for key, derivation in derivations.items():
            pairing = derivation.pairing(html_env, sources[key])
            if pairing is None:
                return
            pairings[sources[key]] = pairing
        paired_env = self._environment(True, self.fragments, pairings)
        try:
            self._compiled["html"] = self._compile_part(paired_env, "html", html)
        except TemplateError:  # pragma: no cover  (the pairing was checked against the tree)
            return
        self._paired = True

    def _html_sources(self, html: str) -> dict[str | None, str]:
        """The HTML part (key None) and every fragment it uses, through fragments; a name
        computed at render time could be any fragment, so then all of them."""
        env = Environment()
        sources: dict[str | None, str] = {None: html}
        pending = [html]
        while pending:
            for name in meta.find_referenced_templates(env.parse(pending.pop())):
                if name is None:
                    sources.update(self.fragments)
                    return sources
                if name not in sources and name in self.fragments:
                    sources[name] = self.fragments[name]
                    pending.append(self.fragments[name])
        return sources

    def _compile_part(self, env: TemplateSandbox, part: str, source: str) -> Any:
        if not ("{{" in source or "{%" in source or "{#" in source):
            return _Constant(source)
        tree = env.parse(source)
        self._check_fragments(env, part, tree, ())
        return env.from_string(tree)

    def _compile_tree(self, env: TemplateSandbox, part: str, value: Any) -> Any:
        if isinstance(value, str):
            return self._compile_part(env, part, value)
        if isinstance(value, list):
            return [self._compile_tree(env, part, item) for item in value]
        if isinstance(value, dict):
            return {key: self._compile_tree(env, part, item) for key, item in value.items()}
        return value

    def _check_fragments(
        self, env: TemplateSandbox, part: str, tree: nodes.Template, chain: tuple[str, ...]
    ) -> None:
        """Every fragment a part names exists and compiles (fragments it names, too)."""
        for name in meta.find_referenced_templates(tree):
            if name is None or name in chain:  # a name computed at render time; a cycle
                continue
            if name not in self.fragments:
                known = ", ".join(sorted(self.fragments)) or "none"
                via = f" (through fragment {chain[-1]!r})" if chain else ""
                raise MessageTemplateError(
                    f"the {part} part uses fragment {name!r}{via}, which is not given; "
                    f"fragments given: {known}"
                )
            assert env.loader is not None
            source = env.loader.get_source(env, name)[0]
            self._check_fragments(env, part, env.parse(source, name), (*chain, name))
            env.get_template(name)  # compiled and cached for the renders

    def render(self, context: Mapping[str, Any], *, locale: str | None = None) -> dict[str, Any]:
        """Every part for one recipient; the time limit covers all of them."""
        parts: dict[str, Any] = {}
        limits = self.limits
        budget = RenderBudget(limits, locale_for(context.get("language"), locale))
        token = _BUDGET.set(budget)
        variables = {**self._globals, **context}
        paired_text: str | None = None
        name = ""
        try:
            for name, compiled in self._compiled.items():
                if name in TREE_PARTS:
                    parts[name] = _render_tree(self, compiled, variables, limits.output_chars)
                    continue
                if type(compiled) is _Constant:
                    value = str(compiled)
                elif name == "html" and self._paired:
                    budget.text = sink = TextSink()
                    value = render_in_context(
                        compiled, self._context(compiled, variables), limits.output_chars
                    )
                    budget.text = None
                    if not sink.refused:
                        paired_text = "".join(sink)
                elif name == "text" and paired_text is not None:
                    value = paired_text
                elif compiled is _CONVERTED:
                    value = html_to_text(parts["html"])
                else:
                    value = render_in_context(
                        compiled, self._context(compiled, variables), limits.output_chars
                    )
                parts[name] = value.strip() if name in TEXT_PARTS and name != "text" else value
        except MessageTemplateError:
            raise
        except RenderLimitError as exc:
            raise MessageTemplateError(f"the {name} part {exc}") from None
        except SecurityError as exc:
            raise MessageTemplateError(f"the {name} part is refused: {exc}") from None
        except RecursionError:
            raise MessageTemplateError(
                f"the {name} part calls a macro within itself too deeply; give the macro a "
                "condition that ends the recursion"
            ) from None
        except Exception as exc:  # a template raised: Jinja's errors and whatever it called
            raise MessageTemplateError(
                f"the {name} part fails for this recipient: {type(exc).__name__}: {exc}"
            ) from None
        finally:
            _BUDGET.reset(token)
        return parts

    def _context(self, compiled: Any, variables: dict[str, Any]) -> Any:
        """A part's Jinja context over the render's shared variables: what
        `compiled.new_context(variables, shared=True)` makes, without copying the
        template's globals (a ChainMap, slow to walk) into a set for every part."""
        environment = compiled.environment
        return environment.context_class(
            environment, variables, compiled.name, compiled.blocks, globals=self._globals
        )


def referenced_fragments(
    parts: Mapping[str, Any], fragments: Mapping[str, str] | None = None
) -> set[str]:
    """The fragment names a template's parts use (include, import, from-import), followed
    through `fragments` when given, so a campaign can resolve and freeze them. Names
    computed at render time cannot be known and are left out."""
    env = Environment()
    found: set[str] = set()
    pending = [source for source in _strings(parts.values())]
    while pending:
        source = pending.pop()
        try:
            names = meta.find_referenced_templates(env.parse(source))
        except TemplateSyntaxError as exc:
            raise MessageTemplateError(_compile_message("template", exc)) from None
        for name in names:
            if name is None or name in found:
                continue
            found.add(name)
            if fragments and isinstance(fragments.get(name), str):
                pending.append(fragments[name])
    return found


def _strings(values: Iterable[Any]) -> Iterable[str]:
    for value in values:
        if isinstance(value, str):
            yield value
        elif isinstance(value, list):
            yield from _strings(value)
        elif isinstance(value, dict):
            yield from _strings(value.values())


def _compile_message(part: str, exc: TemplateError) -> str:
    line = getattr(exc, "lineno", None)
    where = f" (line {line})" if line else ""
    fragment = getattr(exc, "name", None)
    if fragment:
        return f"fragment {fragment!r} does not compile{where}: {exc.message}"
    return f"the {part} part does not compile{where}: {exc.message}"


def text_template_from_html(html: str) -> str:
    """A plain-text template from an HTML template: inscriptis lays out the text, with each
    Jinja statement kept whole in its place, and each expression whose value shows.

    A statement between table rows or cells is laid out as a row or cell of its own, so it
    stays where it is. When the layout would still move a tag out of its place (the
    derived template would then fail or be wrong), MessageTemplateError: such an e-mail's
    text part is converted from each recipient's rendered HTML instead."""
    template = _derive_text(html).template
    if template is None:
        raise MessageTemplateError(
            "the text part cannot be derived from this HTML template with every Jinja tag in "
            "its place; convert each rendered HTML instead (html_to_text)"
        )
    return template


def html_to_text(html: str) -> str:
    """Rendered HTML as plain text, laid out the way derived text templates are."""
    from inscriptis import get_text

    return _tidy_text(get_text(html))


def _inline_text(html: str) -> str:
    """An HTML value written in a text part (`{{ note|safe }}`): its text, without the
    line break inscriptis ends a document with."""
    return html_to_text(html).rstrip("\n") if html.strip() else html


def _tidy_text(text: str) -> str:
    # inscriptis pads table cells to line them up: trailing spaces and runs of blank lines
    # would be most of the text part's bytes, so they go.
    text = "\n".join(line.rstrip() for line in text.splitlines())
    return _BLANK_LINES.sub("\n\n", text).strip() + "\n"


_MARK = re.compile(r"HERALDJINJA(\d+)Z")
_HTML_TAG = re.compile(r"<!--.*?-->|<(/?)([a-zA-Z][a-zA-Z0-9]*)\b[^>]*>", re.DOTALL)
_ROW_GROUPS = frozenset({"table", "thead", "tbody", "tfoot"})
_TABLE_PARTS = frozenset({"table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption"})
_STATEMENT = re.compile(r"{%[-+]?\s*(\w*)")
_OPENERS = frozenset(
    {"for", "if", "macro", "call", "filter", "block", "with", "autoescape", "trans"}
)
_MIDDLES = frozenset({"else", "elif", "pluralize"})
# what a paired HTML template may use: statements that write no buffered output, and no
# filter that makes an HTML value (its text would not be the value itself)
_PAIRABLE = frozenset({"for", "endfor", "if", "elif", "else", "endif", "set", "include"})
_HTML_VALUES = re.compile(r"\|\s*(safe|e|escape|forceescape|tojson|urlize|xmlattr)\b")
_WHITESPACE_CONTROL = re.compile(r"{[{%][-+]|[-+][}%]}|{#")


@dataclass
class _Derivation:
    """A text template derived from an HTML template, tag by tag.

    `tags` and `gaps` are the HTML split at its Jinja tags (`gaps[i]` comes before
    `tags[i]`, the last gap after the last tag); `items` is the derived template in order,
    text runs (str) and tags (their index); `shown` the tags present in the laid-out
    text. `template` is None when the layout moved a tag out of its place."""

    tags: list[str]
    gaps: list[str]
    items: list[str | int]
    shown: set[int]
    template: str | None

    def pairing(self, html_env: TemplateSandbox, source: str) -> TextPairing | None:
        """The text each static run of the HTML writes when the HTML template writes its
        text itself, or None when that would not be the derived template's text."""
        if self.template is None or _WHITESPACE_CONTROL.search(source):
            return None
        for tag in self.tags:
            keyword = _keyword(tag)
            if keyword is None:
                if _HTML_VALUES.search(tag):
                    return None
            elif keyword not in _PAIRABLE or (keyword == "set" and "=" not in tag):
                return None
        # each text run goes to the first static run after the tag it follows in the
        # derived template, past only hidden expressions and `set`s (they write nothing)
        after_gap = [""] * len(self.gaps)
        at = 0  # the gap the next text run belongs to
        for item in self.items:
            if isinstance(item, int):
                at = item + 1
                continue
            if not item:
                continue
            gap = at
            while not self.gaps[gap]:
                if gap >= len(self.tags):
                    return None
                tag = self.tags[gap]
                if gap in self.shown or not (_keyword(tag) is None or _keyword(tag) == "set"):
                    return None  # two tags side by side with text between them in the text
                gap += 1
            after_gap[gap] += item
        tree = html_env.parse(source)
        data, outputs = output_children(tree)
        runs = [gap for gap in self.gaps if gap]
        expressions = [i for i, tag in enumerate(self.tags) if tag.startswith("{{")]
        if [node.data for node in data] != runs or len(outputs) != len(expressions):
            return None  # Jinja split the source otherwise (a `{{` inside a string, ...)
        return TextPairing(
            after_data=tuple(after_gap[i] for i, gap in enumerate(self.gaps) if gap),
            shown=tuple(i in self.shown for i in expressions),
        )


def _keyword(tag: str) -> str | None:
    """A statement's keyword ('for', 'endfor', ...); None for an expression."""
    match = _STATEMENT.match(tag)
    return match.group(1) if match else None


def _derive_text(html: str) -> _Derivation:
    split = _JINJA.split(html)
    gaps, tags = split[0::2], split[1::2]
    if _MARK.search(html):  # the HTML's own text looks like a mark: nothing to trust
        return _Derivation(tags, gaps, [], set(), None)
    held = "".join(
        gap + (f"HERALDJINJA{i}Z" if i < len(tags) else "") for i, gap in enumerate(gaps)
    )
    text = _lay_out(held, tags)
    if text is None:
        return _Derivation(tags, gaps, [], set(), None)
    laid_out = _MARK.split(_own_lines(text, tags))
    texts, order = laid_out[0::2], [int(index) for index in laid_out[1::2]]
    derivation = _Derivation(tags, gaps, [], set(order), None)
    if order != sorted(set(order)) or not _blocks_kept_whole(tags, derivation.shown):
        return derivation
    # a statement the layout dropped (in a <head>, an attribute, a comment) still runs:
    # it goes back before the next tag shown; an expression dropped is not seen in the text
    items: list[str | int] = []
    previous = -1
    for text, index in zip(texts, [*order, len(tags)], strict=True):
        items.append(text)
        items.extend(
            hidden for hidden in range(previous + 1, index) if _keyword(tags[hidden]) is not None
        )
        if index < len(tags):
            items.append(index)
        previous = index
    derivation.items = items
    derivation.template = "".join(item if isinstance(item, str) else tags[item] for item in items)
    return derivation


_MARKS_LINE = re.compile(r"^[ \t]*((?:HERALDJINJA\d+Z)+)[ \t]*\n", re.MULTILINE)


def _own_lines(text: str, tags: list[str]) -> str:
    """Statements alone on their line take no line in the text (as Jinja's `trim_blocks`
    and `lstrip_blocks` would have it): a loop over table rows writes one line per row."""

    def trim(match: re.Match[str]) -> str:
        marks = match.group(1)
        if all(_keyword(tags[int(index)]) is not None for index in _MARK.findall(marks)):
            return marks
        return match.group(0)

    return _MARKS_LINE.sub(trim, text)


def _blocks_kept_whole(tags: list[str], shown: set[int]) -> bool:
    """Every block ({% for %} ... {% endfor %}, ...) is in the text with all its tags, or
    is not there at all, nor anything inside it; a `{% raw %}` block is never kept."""
    stack: list[tuple[int, list[int]]] = []
    for index, tag in enumerate(tags):
        keyword = _keyword(tag)
        if keyword is None:
            continue
        if keyword == "raw":
            return False
        if keyword in _OPENERS or (keyword == "set" and "=" not in tag):
            stack.append((index, [index]))
        elif keyword in _MIDDLES:
            if not stack:
                return False
            stack[-1][1].append(index)
        elif keyword.startswith("end"):
            if not stack:
                return False
            opener, members = stack.pop()
            members.append(index)
            present = [member in shown for member in members]
            if any(present) and not all(present):
                return False
            if not any(present) and any(i in shown for i in range(opener, index + 1)):
                return False
    return not stack


@dataclass
class _TableLayout:
    """The HTML prepared for the layout (`html`), and its table rows: how many cells each
    has and which marks sit inside it (at any depth)."""

    html: str
    cells: list[int]
    marks: list[set[int]]


def _keep_in_tables(held: str, stacked: frozenset[int] = frozenset()) -> _TableLayout:
    """The HTML with every Jinja tag that sits between table rows made a row of its own,
    and every one between the cells of a row a cell of its own, so the layout keeps it
    in place (inscriptis lays out only cells). The cells of the rows in `stacked` are laid
    out one below the other instead of side by side."""
    pieces: list[str] = []
    stack: list[tuple[str, int]] = []  # the open table elements, innermost last, with their row
    layout = _TableLayout("", [], [])
    at = 0

    def text(chunk: str) -> None:
        marks = {int(index) for index in _MARK.findall(chunk)}
        if not marks:
            pieces.append(chunk)
            return
        for name, row in stack:
            if name == "tr":
                layout.marks[row] |= marks
        top, row = stack[-1] if stack else ("", -1)
        if top in _ROW_GROUPS:
            pieces.append(f'<tr><td colspan="99">{chunk}</td></tr>')
        elif top == "tr":
            layout.cells[row] += 1
            pieces.append(f"<div>{chunk}</div>" if row in stacked else f"<td>{chunk}</td>")
        else:
            pieces.append(chunk)

    for match in _HTML_TAG.finditer(held):
        text(held[at : match.start()])
        at = match.end()
        tag, closing, name = match.group(0), match.group(1), (match.group(2) or "").lower()
        if name in ("tr", "td", "th") and not closing and all(n != "table" for n, _ in stack):
            # a fragment of a table (rows a part includes): laid out as in its table
            pieces.append("<table>" if name == "tr" else "<table><tr>")
            stack.append(("table", -1))
            if name != "tr":
                stack.append(("tr", len(layout.cells)))
                layout.cells.append(0)
                layout.marks.append(set())
        if name not in _TABLE_PARTS:
            pieces.append(tag)
            continue
        if closing:
            if any(n == name for n, _ in stack):
                while True:
                    popped, row = stack.pop()
                    if popped == name:
                        break
                if row in stacked and name in ("td", "th"):
                    tag = "</div>"
                elif row in stacked and name == "tr":
                    tag = "</td></tr>"
            pieces.append(tag)
            continue
        row = -1
        if name in ("thead", "tbody", "tfoot"):
            while stack and stack[-1][0] != "table":
                stack.pop()
        elif name == "tr":
            while stack and stack[-1][0] in ("td", "th", "tr", "caption"):
                stack.pop()
            row = len(layout.cells)
            layout.cells.append(0)
            layout.marks.append(set())
            if row in stacked:
                tag += "<td>"
        elif name in ("td", "th"):
            while stack and stack[-1][0] in ("td", "th"):
                stack.pop()
            if stack and stack[-1][0] == "tr":
                row = stack[-1][1]
                layout.cells[row] += 1
                if row in stacked:
                    tag = "<div>"
        stack.append((name, row))
        pieces.append(tag)
    text(held[at:])
    layout.html = "".join(pieces)
    return layout


def _lay_out(held: str, tags: list[str]) -> str | None:
    """The text inscriptis lays out from the held HTML, marks in place. A block
    ({% for %} ... {% endfor %}) over several lines of a table row of several cells would
    take the text of the row's other cells into it: such rows are laid out with their
    cells one below the other. None when the layout does not settle."""
    from inscriptis import get_text

    blocks = _blocks(tags)
    stacked: frozenset[int] = frozenset()
    for _ in range(8):
        layout = _keep_in_tables(held, stacked)
        text = _tidy_text(get_text(layout.html))
        line_of = {int(m.group(1)): text.count("\n", 0, m.start()) for m in _MARK.finditer(text)}
        spread = {
            member
            for members in blocks
            if members[0] in line_of
            and members[-1] in line_of
            and line_of[members[0]] != line_of[members[-1]]
            for member in members
        }
        rows = {
            row
            for row, marks in enumerate(layout.marks)
            if layout.cells[row] > 1 and marks & spread
        }
        if rows <= stacked:
            return text
        stacked |= rows
    return None


def _blocks(tags: list[str]) -> list[list[int]]:
    """Each block's tags (opener, middles, closer), as far as they match."""
    found: list[list[int]] = []
    stack: list[list[int]] = []
    for index, tag in enumerate(tags):
        keyword = _keyword(tag)
        if keyword is None:
            continue
        if keyword in _OPENERS or (keyword == "set" and "=" not in tag):
            stack.append([index])
        elif keyword in _MIDDLES and stack:
            stack[-1].append(index)
        elif keyword.startswith("end") and stack:
            members = stack.pop()
            members.append(index)
            found.append(members)
    return found


class _Converted:
    """The text part converted from each recipient's rendered HTML."""


_CONVERTED = _Converted()


class _Constant(str):
    """A part without any Jinja syntax: the same for every recipient, not rendered."""

    __slots__ = ()

    def render(self, context: Mapping[str, Any]) -> str:
        return str(self)


def _render_tree(
    template: MessageTemplate, value: Any, variables: dict[str, Any], output_chars: int
) -> Any:
    if isinstance(value, list):
        return [_render_tree(template, item, variables, output_chars) for item in value]
    if isinstance(value, dict):
        return {
            key: _render_tree(template, item, variables, output_chars)
            for key, item in value.items()
        }
    if type(value) is _Constant:
        return str(value)
    if hasattr(value, "root_render_func"):
        return render_in_context(value, template._context(value, variables), output_chars)
    return value
