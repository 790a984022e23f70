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
template (inscriptis, Jinja expressions kept), and so are the fragments it includes, so a
text part costs one more render per recipient rather than an HTML-to-text conversion per
recipient.

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
    render_limited,
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

    def _environment(self, autoescape: bool, fragments: Mapping[str, str]) -> TemplateSandbox:
        return TemplateSandbox(
            autoescape=autoescape,
            strict=self.strict,
            limits=self.limits,
            fragments=fragments,
            filters=FILTERS,
            functions=FUNCTIONS,
        )

    def _compile(self) -> None:
        plain = self._environment(False, self.fragments)
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
                    name = "text (derived from html)"
                    derived = {
                        key: text_template_from_html(src) for key, src in self.fragments.items()
                    }
                    text_env = self._environment(False, derived) if derived else plain
                    self._compiled["text"] = self._compile_part(
                        text_env, name, text_template_from_html(html)
                    )
            for name in TREE_PARTS:
                if name in self.spec:
                    self._compiled[name] = self._compile_tree(plain, name, self.spec[name])
        except TemplateError as exc:
            raise MessageTemplateError(_compile_message(name, exc)) from None

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
        name = ""
        try:
            for name, compiled in self._compiled.items():
                if name in TREE_PARTS:
                    parts[name] = _render_tree(compiled, context, limits.output_chars)
                    continue
                if type(compiled) is _Constant:
                    value = str(compiled)
                else:
                    value = render_limited(compiled, context, limits.output_chars)
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
    Jinja expression or statement kept whole in its place."""
    from inscriptis import get_text

    pieces: list[str] = []

    def hold(match: re.Match[str]) -> str:
        pieces.append(match.group(0))
        return f"HERALDJINJA{len(pieces) - 1}Z"

    held = _JINJA.sub(hold, html)
    # inscriptis pads table cells to line them up: trailing spaces and runs of blank lines
    # would be most of the text part's bytes, so they go.
    text = "\n".join(line.rstrip() for line in get_text(held).splitlines())
    text = _BLANK_LINES.sub("\n\n", text)
    return re.sub(r"HERALDJINJA(\d+)Z", lambda m: pieces[int(m.group(1))], text).strip() + "\n"


class _Constant(str):
    """A part without any Jinja syntax: the same for every recipient, not rendered."""

    __slots__ = ()

    def render(self, context: Mapping[str, Any]) -> str:
        return str(self)


def _render_tree(value: Any, context: Mapping[str, Any], output_chars: int) -> Any:
    if isinstance(value, list):
        return [_render_tree(item, context, output_chars) for item in value]
    if isinstance(value, dict):
        return {key: _render_tree(item, context, output_chars) for key, item in value.items()}
    if type(value) is _Constant:
        return str(value)
    if hasattr(value, "root_render_func"):
        return render_limited(value, context, output_chars)
    return value
