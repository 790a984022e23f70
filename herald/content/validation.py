"""Checking a message template before it is saved or sent: every problem at once, each
with the part and the line within that part.

    problems = validate_template({"subject": "Hi {{ frist_name }}", "html": "..."},
                                 channel="email", fields={"first_name", "city"},
                                 fragments={"footer": "..."}, data_names={"recs"})
    [p.public() for p in problems]
    # [{"part": "subject", "line": 1, "severity": "warning",
    #   "message": "unknown field 'frist_name': ..."}]

Errors (the template cannot be used): a syntax error (the line is the part's own, 1-based;
in a fragment, the part is `fragment:<name>`), a part the channel does not have, a fragment
used but not given, a part the channel needs missing (e-mail: subject, from, and html or
text; SMS and Telegram: text; push: title or text; webhook: body), a Telegram text over
4,096 characters when it is constant. Warnings: an SMS over 10 segments (counted exactly
when the text is constant, as a lower bound from its fixed text otherwise), a field the
template uses that is not a profile field in `fields` (when given), not one Herald always
provides (`BUILTIN_NAMES`) and not an external data name in `data_names`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from jinja2 import Environment, TemplateSyntaxError, meta, nodes

from herald.content.filters import FILTERS, FUNCTIONS
from herald.content.sms import sms_segments
from herald.templates import CHANNEL_PARTS, META_PARTS

BUILTIN_NAMES = frozenset(
    {"profile_id", "address", "language", "data", "now", "variant", "factors"}
)
_JINJA_NAMES = frozenset({"loop", "caller", "varargs", "kwargs", "self", "super"})
MAX_SMS_SEGMENTS = 10
MAX_TELEGRAM_CHARS = 4096
_TAGS = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}", re.DOTALL)


@dataclass(frozen=True)
class TemplateProblem:
    part: str
    line: int | None
    message: str
    severity: Literal["error", "warning"] = "error"

    def public(self) -> dict[str, Any]:
        return {
            "part": self.part,
            "line": self.line,
            "message": self.message,
            "severity": self.severity,
        }


def validate_template(
    parts: Mapping[str, Any],
    *,
    channel: str,
    fields: Collection[str] | None = None,
    fragments: Mapping[str, str] | None = None,
    data_names: Collection[str] = (),
) -> list[TemplateProblem]:
    """Every problem found in a template's parts for `channel`, errors first."""
    problems: list[TemplateProblem] = []
    known = CHANNEL_PARTS.get(channel)
    if known is None:
        channels = ", ".join(CHANNEL_PARTS)
        return [TemplateProblem("channel", None, f"unknown channel {channel!r}; use {channels}")]
    env = Environment(extensions=[])
    env.filters.update(FILTERS)
    env.globals.update(FUNCTIONS)
    fragments = fragments or {}

    for part in parts:
        if part not in known and part not in META_PARTS:
            problems.append(
                TemplateProblem(
                    part,
                    None,
                    f"{channel} messages have no part {part!r}; their parts are {', '.join(known)}",
                )
            )
    problems += _missing_parts(parts, channel)

    allowed = None
    if fields is not None:
        allowed = set(fields) | set(BUILTIN_NAMES) | set(data_names) | _JINJA_NAMES
        allowed |= set(env.globals)
    checked_fragments: set[str] = set()
    for part, source in _sources(parts):
        tree = _parse(env, part, source, problems)
        if tree is None:
            continue
        _check_fragments(env, part, tree, fragments, checked_fragments, problems, allowed)
        if allowed is not None:
            problems += _unknown_fields(env, part, source, tree, allowed)

    problems += _length_problems(parts, channel)
    return sorted(problems, key=lambda problem: problem.severity != "error")


def _sources(parts: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for part, value in parts.items():
        if part in META_PARTS:
            continue
        yield from _strings(part, value)


def _strings(label: str, value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield label, value
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(f"{label}[{index}]", item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(f"{label}.{key}", item)


def _parse(
    env: Environment, part: str, source: str, problems: list[TemplateProblem]
) -> nodes.Template | None:
    if "__herald" in source:
        line = source.count("\n", 0, source.find("__herald")) + 1
        problems.append(TemplateProblem(part, line, "names starting with '__herald' are reserved"))
        return None
    try:
        return env.parse(source)
    except TemplateSyntaxError as exc:
        problems.append(TemplateProblem(part, exc.lineno, f"syntax error: {exc.message}"))
        return None


def _check_fragments(
    env: Environment,
    part: str,
    tree: nodes.Template,
    fragments: Mapping[str, str],
    checked: set[str],
    problems: list[TemplateProblem],
    allowed: set[str] | None,
) -> None:
    for name in meta.find_referenced_templates(tree):
        if name is None:
            continue
        if name not in fragments:
            line = _line_of(tree, name)
            given = ", ".join(sorted(fragments)) or "none"
            problems.append(
                TemplateProblem(
                    part,
                    line,
                    f"fragment {name!r} is used but not given; fragments given: {given}",
                )
            )
            continue
        if name in checked:
            continue
        checked.add(name)
        label = f"fragment:{name}"
        fragment_tree = _parse(env, label, fragments[name], problems)
        if fragment_tree is None:
            problems[-1] = TemplateProblem(
                label, problems[-1].line, f"in fragment {name!r}: {problems[-1].message}"
            )
            continue
        _check_fragments(env, label, fragment_tree, fragments, checked, problems, allowed)
        if allowed is not None:
            problems += _unknown_fields(env, label, fragments[name], fragment_tree, allowed)


def _line_of(tree: nodes.Template, fragment: str) -> int | None:
    for node in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport)):
        template = getattr(node, "template", None)
        if isinstance(template, nodes.Const) and template.value == fragment:
            return node.lineno
    return None


def _unknown_fields(
    env: Environment, part: str, source: str, tree: nodes.Template, allowed: set[str]
) -> list[TemplateProblem]:
    unknown = sorted(meta.find_undeclared_variables(tree) - allowed)
    problems = []
    for name in unknown:
        line = next((node.lineno for node in tree.find_all(nodes.Name) if node.name == name), None)
        problems.append(
            TemplateProblem(
                part,
                line,
                f"unknown field {name!r}: it is not a profile field, a Herald name or an "
                "external data name, so it renders empty",
                "warning",
            )
        )
    return problems


def _missing_parts(parts: Mapping[str, Any], channel: str) -> list[TemplateProblem]:
    def has(name: str) -> bool:
        value = parts.get(name)
        return value is not None and value != ""

    missing: list[str] = []
    if channel == "email":
        missing = [name for name in ("subject", "from") if not has(name)]
        if not (has("html") or has("text")):
            missing.append("html or text")
    elif channel in ("sms", "telegram"):
        missing = [] if has("text") else ["text"]
    elif channel == "push":
        missing = [] if has("title") or has("text") else ["title or text"]
    elif channel == "webhook":
        missing = [] if has("body") else ["body"]
    return [
        TemplateProblem(name, None, f"{channel} messages need a {name} part; add it")
        for name in missing
    ]


def _length_problems(parts: Mapping[str, Any], channel: str) -> list[TemplateProblem]:
    text = parts.get("text")
    if not isinstance(text, str):
        return []
    constant = not _TAGS.search(text)
    if channel == "sms":
        info = sms_segments(text if constant else _TAGS.sub("", text))
        if info.segments > MAX_SMS_SEGMENTS:
            count = f"{info.segments}" if constant else f"at least {info.segments}"
            return [
                TemplateProblem(
                    "text",
                    None,
                    f"the SMS is {count} segments ({info.encoding}, {info.units} units), over "
                    f"{MAX_SMS_SEGMENTS}; each segment is billed as one message",
                    "warning",
                )
            ]
    if channel == "telegram" and constant and len(text) > MAX_TELEGRAM_CHARS:
        return [
            TemplateProblem(
                "text",
                None,
                f"the text is {len(text):,} characters; Telegram takes at most "
                f"{MAX_TELEGRAM_CHARS:,} in one message",
            )
        ]
    return []
