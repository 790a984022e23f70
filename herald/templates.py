"""Message templates: a message's parts per channel, rendered per recipient in a sandbox.

    template = MessageTemplate.from_spec({"subject": "Hi {{ first_name }}",
                                          "html": "<p>Hello {{ first_name }}</p>",
                                          "from": "news@shop.example"})
    parts = template.render({"first_name": "Anna", "profile_id": "p1"})
    # {"subject": "Hi Anna", "html": "<p>Hello Anna</p>", "text": "Hello Anna", ...}

Parts by channel: e-mail `subject`, `html`, `text`, `from`, `from_name`, `reply_to`,
`preheader`; Telegram `text`, `parse_mode`, `buttons`; a webhook `body` (a JSON document
whose string values are templates). Every string part is a Jinja2 template run in a
`SandboxedEnvironment` (rule 5): attribute walking (`__class__`, `mro`, ...) is refused, and
an output longer than `MAX_OUTPUT_CHARS` is an error. HTML is autoescaped; the other parts
are not.

When an e-mail has HTML and no text part, a text template is derived once from the HTML
template (inscriptis, Jinja expressions kept), so a text part costs one more render per
recipient rather than an HTML-to-text conversion per recipient.

Campaign templates with fragments, external data and previews build on this (issue #8).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import StrictUndefined, TemplateError, Undefined
from jinja2.sandbox import SandboxedEnvironment

from herald.errors import HeraldError

MAX_OUTPUT_CHARS = 1_000_000
TEXT_PARTS = ("subject", "text", "from", "from_name", "reply_to", "preheader", "parse_mode")
_ANY_PARTS = frozenset((*TEXT_PARTS, "html", "buttons", "body", "channel", "topic"))
_JINJA = re.compile(r"({{.*?}}|{%.*?%})", re.DOTALL)
_BLANK_LINES = re.compile(r"\n{3,}")


class MessageTemplateError(HeraldError):
    """A template that does not compile, or fails or overflows when rendered."""


class _Environment(SandboxedEnvironment):
    pass


def _environment(autoescape: bool, strict: bool) -> SandboxedEnvironment:
    return _Environment(
        autoescape=autoescape,
        undefined=StrictUndefined if strict else Undefined,
        keep_trailing_newline=True,
    )


@dataclass
class MessageTemplate:
    spec: dict[str, Any]
    strict: bool = False  # a missing field is an error (True) or renders empty (False)
    _compiled: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], *, strict: bool = False) -> MessageTemplate:
        unknown = sorted(set(spec) - _ANY_PARTS)
        if unknown:
            raise MessageTemplateError(
                f"unknown template parts: {', '.join(unknown)}; "
                f"known: {', '.join(sorted(_ANY_PARTS))}"
            )
        template = cls(dict(spec), strict)
        template._compile()
        return template

    def _compile(self) -> None:
        plain = _environment(False, self.strict)
        html_env = _environment(True, self.strict)
        try:
            for name in TEXT_PARTS:
                value = self.spec.get(name)
                if isinstance(value, str):
                    self._compiled[name] = _compile(plain, value)
            html = self.spec.get("html")
            if isinstance(html, str):
                self._compiled["html"] = _compile(html_env, html)
                if not isinstance(self.spec.get("text"), str):
                    self._compiled["text"] = _compile(plain, text_template_from_html(html))
            if "buttons" in self.spec:
                self._compiled["buttons"] = _compile_tree(plain, self.spec["buttons"])
            if "body" in self.spec:
                self._compiled["body"] = _compile_tree(plain, self.spec["body"])
        except TemplateError as exc:
            line = getattr(exc, "lineno", None)
            where = f" (line {line})" if line else ""
            raise MessageTemplateError(f"the template does not compile{where}: {exc}") from None

    def render(self, context: Mapping[str, Any]) -> dict[str, Any]:
        parts: dict[str, Any] = {}
        try:
            for name, compiled in self._compiled.items():
                if name in ("buttons", "body"):
                    parts[name] = _render_tree(compiled, context)
                    continue
                value = compiled.render(context)
                if len(value) > MAX_OUTPUT_CHARS:
                    raise MessageTemplateError(
                        f"{name} renders to {len(value):,} characters, over the limit of "
                        f"{MAX_OUTPUT_CHARS:,}"
                    )
                parts[name] = value.strip() if name in TEXT_PARTS and name != "text" else value
        except MessageTemplateError:
            raise
        except Exception as exc:  # a template raised: Jinja's errors and whatever it called
            raise MessageTemplateError(
                f"the template fails for this recipient: {type(exc).__name__}: {exc}"
            ) from None
        return parts


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


def _compile(env: SandboxedEnvironment, source: str) -> Any:
    if "{{" in source or "{%" in source or "{#" in source:
        return env.from_string(source)
    return _Constant(source)


def _compile_tree(env: SandboxedEnvironment, value: Any) -> Any:
    if isinstance(value, str):
        return env.from_string(value)
    if isinstance(value, list):
        return [_compile_tree(env, item) for item in value]
    if isinstance(value, dict):
        return {key: _compile_tree(env, item) for key, item in value.items()}
    return value


def _render_tree(value: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(value, list):
        return [_render_tree(item, context) for item in value]
    if isinstance(value, dict):
        return {key: _render_tree(item, context) for key, item in value.items()}
    if hasattr(value, "render"):
        return value.render(context)
    return value
