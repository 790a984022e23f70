"""The sandbox message templates run in: Jinja2's `SandboxedEnvironment` with time and size
limits (architecture rule 5).

    env = TemplateSandbox(autoescape=True, limits=RenderLimits(time_seconds=1.0),
                          fragments={"footer": "<p>Bye</p>"})
    template = env.from_string("{% for p in products %}{{ p.name }}{% endfor %}")
    with render_budget(env.limits, locale="ru"):
        html = render_limited(template, {"products": [...]}, env.limits.output_chars)

What is refused, and how:

- Attribute walking: any attribute or item named with a leading underscore
  (`''.__class__`, `cycler.__init__.__globals__`, `self._TemplateReference__context`,
  `range.__self__`, `"{0.__class__}".format(x)`) raises `SecurityError` instead of rendering
  as undefined, so the author learns the template is refused.
- Time: at parse time every `{% for %}` iterable (and every `loop(...)` of a recursive loop)
  is wrapped in a guard generator (the reserved filter `__herald_loop__`; a template that
  names `__herald` is refused). The guard counts iterations into the render's budget and
  reads the clock every 256 of them; every call a template makes (macros, methods) counts
  too. Over the deadline or the iteration cap, `RenderLimitError`.
- Size: `*`, `**`, `+` and `%` are checked before they compute (`"x" * 10**9`, `9**9**9`,
  `"%999999999d" % 1`); so are the filters and `str` methods that multiply text (`join`,
  `replace`, `center`, `indent`, `format`, `ljust`, ...). Every buffer Jinja joins (a
  macro's body, a `{% set %}` block) and the whole output are checked against
  `output_chars`. `lipsum` is removed.
- Recursion (a macro calling itself) ends in Python's RecursionError, which the caller turns
  into a plain sentence.

The budget is per render call (per recipient): `render_budget()` sets it in a context
variable, so the loop guard and the filters (locale) find it without threading it through
the template's context.

Output: an autoescaped `{{ ... }}` is written through `escape_output` (the text
`markupsafe.escape` gives, without a Markup per value). An HTML template parsed with a
`TextPairing` (`text_pairings=`, made by herald.templates) also writes its plain-text
part in the same pass: each static run appends its text, each shown value its unescaped
text, to the budget's `TextSink`, measured against `output_chars` like the HTML.
"""

from __future__ import annotations

import contextvars
import re
import string
import time
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import update_wrapper, wraps
from itertools import islice
from typing import Any

from jinja2 import DictLoader, StrictUndefined, Undefined, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.defaults import DEFAULT_FILTERS
from jinja2.exceptions import SecurityError, TemplateAssertionError, TemplateSyntaxError
from jinja2.filters import (
    do_center,
    do_format,
    do_indent,
    do_join,
    do_replace,
)
from jinja2.sandbox import SandboxedEnvironment, modifies_known_mutable
from jinja2.utils import pass_eval_context
from markupsafe import Markup, escape

try:  # markupsafe's C escaper: text in, text out, without building a Markup
    from markupsafe._speedups import _escape_inner
except ImportError:  # pragma: no cover  (markupsafe without its C extension)
    from markupsafe._native import _escape_inner

from herald.errors import HeraldError

GUARD_NAME = "__herald_loop__"
RESERVED_PREFIX = "__herald"
BATCH = 32  # output pieces joined and measured at once
TEXT_BATCH = 256  # pieces of a paired template's text measured at once
CLOCK_EVERY = 256  # loop iterations (and calls) between two reads of the clock
MAX_POWER_BITS = 100_000
_DICT_ATTRIBUTES = frozenset(
    dir(dict)
)  # `a ** b` and `a * b` on integers: the largest result allowed


@dataclass(frozen=True)
class RenderLimits:
    """What one render (one recipient, all parts) may spend."""

    time_seconds: float = 1.0
    output_chars: int = 1_000_000
    loop_iterations: int = 1_000_000


class RenderLimitError(HeraldError):
    """A render went over a time or size limit; the message says which."""


class RenderBudget:
    """One render's allowance: the deadline, iterations so far, and its locale."""

    __slots__ = ("count", "deadline", "limits", "locale", "text")

    def __init__(self, limits: RenderLimits, locale: str = "en") -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.time_seconds
        self.count = 0
        self.locale = locale
        self.text: TextSink | None = None  # where a paired HTML template writes its text

    def check(self) -> None:
        if self.count > self.limits.loop_iterations:
            raise RenderLimitError(
                f"went over {self.limits.loop_iterations:,} loop iterations and calls; "
                "loop over less data"
            )
        if time.monotonic() > self.deadline:
            raise RenderLimitError(
                f"took longer than {float(self.limits.time_seconds)} s to render; "
                "loop over less data or simplify the template"
            )

    def iterate(self, iterable: Iterable[Any]) -> Iterator[Any]:
        for item in iterable:
            self.count += 1
            if not self.count % CLOCK_EVERY:
                self.check()
            yield item


_BUDGET: contextvars.ContextVar[RenderBudget | None] = contextvars.ContextVar(
    "herald_render_budget", default=None
)


def current_budget() -> RenderBudget | None:
    """The budget of the render running in this thread or task, if any."""
    return _BUDGET.get()


@contextmanager
def render_budget(limits: RenderLimits, locale: str = "en") -> Iterator[RenderBudget]:
    """Start a render's clock and counters (and set its locale) for the code inside."""
    budget = RenderBudget(limits, locale)
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


def _guard_loop(iterable: Iterable[Any]) -> Iterable[Any]:
    budget = _BUDGET.get()
    if budget is None:  # rendered outside render_budget(): no limits to count against
        return iterable
    return budget.iterate(iterable)


class TextSink(list[str]):
    """The plain text a paired HTML template writes beside its output (see `TextPairing`).
    `refused` is set when an output value was HTML (a Markup): its text is not the value
    itself, so the caller renders the text template instead."""

    __slots__ = ("refused",)

    def __init__(self) -> None:
        super().__init__()
        self.refused = False


@dataclass(frozen=True)
class TextPairing:
    """How an HTML template writes its plain text while it renders, in one pass.

    `after_data[k]` is the text written after the k-th static run (TemplateData node, in
    document order) and `shown[k]` says whether the k-th `{{ ... }}` output is shown in the
    text as well (its value, unescaped). Made by herald.templates from the text template
    derived from the same source, whose statements are the HTML's, in the same order."""

    after_data: tuple[str, ...]
    shown: tuple[bool, ...]


def paired_output(sink: list[str], value: Any) -> str:
    """An autoescaped output that also writes its value to the text: the HTML gets
    `escape_output(value)`, the text `str(value)`, what a text template computing the same
    value writes. A value that is HTML (has `__html__`) refuses the pairing."""
    kind = type(value)
    if kind is str:
        sink.append(value)
        return _escape_inner(value)
    if kind is int or kind is float:
        text = str(value)
        sink.append(text)
        return text
    if hasattr(value, "__html__"):
        if isinstance(sink, TextSink):
            sink.refused = True
        return escape(value)
    text = str(value)
    sink.append(text)
    return _escape_inner(text)


def text_sink() -> list[str]:
    """The running render's text sink; a throwaway list when no pairing was asked for."""
    budget = _BUDGET.get()
    if budget is None or budget.text is None:
        return []
    return budget.text


def render_limited(template: Any, context: Mapping[str, Any], output_chars: int) -> str:
    """Render a compiled template, refusing an output over `output_chars` as it grows.

    The output is joined BATCH pieces at a time (in C) and measured per batch: a piece is
    itself size-checked where it is built, so at most BATCH pieces are held unchecked."""
    return render_in_context(template, template.new_context(context), output_chars)


def render_in_context(template: Any, jinja_context: Any, output_chars: int) -> str:
    """`render_limited` with the template's Jinja context already made: several templates
    can render from one shared `template.new_context(variables, shared=True)`, where
    `variables` holds the environment's globals and the recipient's fields (Jinja writes
    a template's own variables into each context's `vars`, never into the shared dict)."""
    total = 0
    pieces: list[str] = []
    events = template.root_render_func(jinja_context)
    budget = _BUDGET.get()
    text = budget.text if budget is not None else None
    text_total = text_seen = 0
    while True:
        batch = "".join(islice(events, BATCH))
        if not batch:
            # a batch of empty pieces is rare; an exhausted generator gives nothing more
            more = next(events, None)
            if more is None:
                break
            batch = more
        total += len(batch)
        if text is not None and len(text) - text_seen >= TEXT_BATCH:
            # a paired template's text grows with its HTML: measured too, less often (its
            # pieces are the HTML's values, unescaped, and static runs of the template)
            text_total += sum(map(len, text[text_seen:]))
            text_seen = len(text)
            total = max(total, text_total)
        if total > output_chars:
            events.close()
            raise RenderLimitError(
                f"renders to more than {output_chars:,} characters, over the limit"
            )
        pieces.append(batch)
    if text is not None and text_total + sum(map(len, text[text_seen:])) > output_chars:
        raise RenderLimitError(f"renders to more than {output_chars:,} characters, over the limit")
    return "".join(pieces)


# --- the environment ---------------------------------------------------------------------


class _LoopGuard:
    """Wraps every For node's iterable (and recursive `loop(...)` calls) in the guard."""

    def apply(self, tree: nodes.Node) -> None:
        for loop in tree.find_all(nodes.For):
            loop.iter = self._wrap(loop.iter)  # type: ignore[arg-type]  # an Expr in practice
            if loop.recursive:
                for call in loop.find_all(nodes.Call):
                    if isinstance(call.node, nodes.Name) and call.node.name == "loop" and call.args:
                        call.args[0] = self._wrap(call.args[0])

    @staticmethod
    def _wrap(node: nodes.Expr) -> nodes.Expr:
        # a filter, not a call: Jinja calls a filter directly, without the sandbox's
        # per-call checks (the guard is ours, and counts the iterations itself)
        if isinstance(node, nodes.Filter) and node.name == GUARD_NAME:
            return node
        guard = nodes.Filter(node, GUARD_NAME, [], [], None, None)
        guard.set_lineno(node.lineno)
        return guard


_GUARD = _LoopGuard()


def escape_output(value: Any) -> str:
    """What an autoescaped `{{ ... }}` writes: the same text as `markupsafe.escape(value)`,
    without building a Markup for the common plain values (text, numbers) the output
    joins right away anyway."""
    kind = type(value)
    if kind is str:
        return _escape_inner(value)
    if kind is Markup:
        return value
    if kind is int or kind is float:
        return str(value)  # digits, signs, '.', 'e', 'inf', 'nan': nothing to escape
    return escape(value)


class _SizeCheckedCodeGenerator(CodeGenerator):
    """Jinja's code generator with every `~` concatenation checked against the size limit,
    and autoescaped output written through `escape_output`; a template marked by
    `pair_text` writes its plain text beside its HTML (`paired_output`)."""

    paired = False

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        self.paired = getattr(node, "herald_paired", False)
        super().visit_Template(node, frame)
        # the render functions look the names up when they run, after the module is built
        self.writeline(
            "from herald.content.sandbox import escape_output as herald_escape, "
            "paired_output as herald_paired, text_sink as herald_text_sink"
        )

    def pull_dependencies(self, nodes: list[nodes.Node]) -> None:  # type: ignore[override]
        super().pull_dependencies(nodes)
        if self.paired:
            self.writeline("herald_sink = herald_text_sink()")

    def visit_Output(self, node: nodes.Output, frame: Frame) -> None:
        if not self.paired:
            super().visit_Output(node, frame)
            return
        if frame.buffer is not None or frame.require_output_check or frame.eval_ctx.volatile:
            raise TemplateAssertionError(
                "a paired template writes its output only at its top level", node.lineno
            )
        for child in node.nodes:
            if isinstance(child, nodes.TemplateData):
                self.writeline(f"yield {child.data!r}")
                text = getattr(child, "herald_text", "")
                if text:
                    self.writeline(f"herald_sink.append({text!r})")
                continue
            if getattr(child, "herald_shown", False):
                self.writeline("yield herald_paired(herald_sink, ", child)
            else:
                self.writeline("yield herald_escape(", child)
            self.visit(child, frame)
            self.write(")")

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        if not frame.eval_ctx.volatile:
            if frame.eval_ctx.autoescape:
                self.write("herald_escape(")
            elif getattr(self.environment, "html_as_text", None) is not None:
                self.write("environment.text_output(")
            else:
                self.write("str(")
            if finalize.src is not None:
                self.write(finalize.src)
            return
        super()._output_child_pre(node, frame, finalize)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.checked_size(")
        super().visit_Concat(node, frame)
        self.write(")")


class TemplateSandbox(SandboxedEnvironment):
    """A sandboxed Jinja2 environment with Herald's limits, filters and fragments."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    code_generator_class = _SizeCheckedCodeGenerator

    def __init__(
        self,
        *,
        autoescape: bool = False,
        strict: bool = False,
        limits: RenderLimits | None = None,
        fragments: Mapping[str, str] | None = None,
        filters: Mapping[str, Callable[..., Any]] | None = None,
        functions: Mapping[str, Callable[..., Any]] | None = None,
        text_pairings: Mapping[str, TextPairing] | None = None,
        html_as_text: Callable[[str], str] | None = None,
    ) -> None:
        super().__init__(
            autoescape=autoescape,
            undefined=StrictUndefined if strict else Undefined,
            keep_trailing_newline=True,
            loader=DictLoader(dict(fragments)) if fragments else None,
            auto_reload=False,
        )
        self.limits = limits or RenderLimits()
        self.globals.pop("lipsum", None)
        self.filters[GUARD_NAME] = _guard_loop
        limit = self.limits.output_chars
        for name, builtin in DEFAULT_FILTERS.items():
            self.filters[name] = _checked_filter(builtin, limit)
        self.filters.update(_size_guarded_filters(limit))
        if filters:
            self.filters.update(filters)
        if functions:
            self.globals.update(functions)
        self.concat = self._concat  # type: ignore[method-assign]
        self.text_pairings = dict(text_pairings or {})
        # a text template derived from HTML writes an HTML value (`|safe`, a Markup in
        # the data) as its text, not as markup
        self.html_as_text = html_as_text

    # parsing: the reserved name, then the loop guards
    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        at = source.find(RESERVED_PREFIX)
        if at >= 0:
            raise TemplateSyntaxError(
                f"names starting with {RESERVED_PREFIX!r} are reserved for Herald",
                source.count("\n", 0, at) + 1,
                name,
                filename,
            )
        tree = super()._parse(source, name, filename)
        _GUARD.apply(tree)
        pairing = self.text_pairings.get(source)
        if pairing is not None and self.autoescape is True:
            pair_text(tree, pairing)
        return tree

    def text_output(self, value: Any) -> str:
        """What `{{ ... }}` writes in a text template derived from HTML."""
        if hasattr(value, "__html__") and self.html_as_text is not None:
            return self.html_as_text(value.__html__())
        return str(value)

    def checked_size(self, value: Any) -> Any:
        return _check_len(value, self.limits.output_chars)

    # attribute walking; methods that change a list, dict or set in place (`extend` can
    # double a list per loop iteration) are refused too
    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return super().is_safe_attribute(obj, attr, value) and not modifies_known_mutable(obj, attr)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            # the common case, a field of a record: one lookup, no AttributeError raised
            try:
                return obj[attribute]
            except KeyError:
                if attribute[:1] != "_":
                    return self.undefined(obj=obj, name=attribute)
                raise SecurityError(_unsafe(obj, attribute)) from None
        if attribute[:1] == "_" and not (isinstance(obj, Mapping) and attribute in obj):
            raise SecurityError(_unsafe(obj, attribute))
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(argument, str) and argument[:1] == "_" and not isinstance(obj, Mapping):
            raise SecurityError(_unsafe(obj, argument))
        return super().getitem(obj, argument)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        raise SecurityError(_unsafe(obj, attribute))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        source = value.__self__
        limit = self.limits.output_chars

        def checked(*args: Any, **kwargs: Any) -> str:
            _check_format_spec(source, limit)
            return _check_len(wrapped(*args, **kwargs), limit)

        return update_wrapper(checked, value)

    # time: every call counts like a loop iteration
    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget = _BUDGET.get()
        if budget is not None:
            budget.count += 1
            if not budget.count % CLOCK_EVERY:
                budget.check()
        if type(__obj) is types.BuiltinMethodType and isinstance(
            getattr(__obj, "__self__", None), str
        ):
            _check_str_method(__obj, args, kwargs, __self.limits.output_chars)
        result = SandboxedEnvironment.call(__self, __context, __obj, *args, **kwargs)
        if isinstance(result, (str, list, tuple)) and len(result) > __self.limits.output_chars:
            raise RenderLimitError(_too_long(len(result), __self.limits.output_chars))
        return result

    # size: operators
    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        limit = self.limits.output_chars
        if operator == "*":
            _check_repeat(left, right, limit)
        elif operator == "**":
            _check_power(left, right)
        elif (
            operator == "+"
            and isinstance(left, (str, list, tuple))
            and isinstance(right, (str, list, tuple))
            and len(left) + len(right) > limit
        ):
            raise RenderLimitError(_too_long(len(left) + len(right), limit))
        elif operator == "%" and isinstance(left, str):
            _check_percent_format(left, limit)
        return self.binop_table[operator](left, right)

    def _concat(self, pieces: Iterable[str]) -> str:
        if isinstance(pieces, list):
            total = sum(map(len, pieces))
            if total > self.limits.output_chars:
                raise RenderLimitError(_too_long(total, self.limits.output_chars))
            return "".join(pieces)
        return _check_len("".join(pieces), self.limits.output_chars)


def output_children(tree: nodes.Template) -> tuple[list[nodes.TemplateData], list[nodes.Expr]]:
    """A template's static runs and `{{ ... }}` outputs, each in document order."""
    data: list[nodes.TemplateData] = []
    outputs: list[nodes.Expr] = []
    for output in tree.find_all(nodes.Output):
        for child in output.nodes:
            if isinstance(child, nodes.TemplateData):
                data.append(child)
            else:
                outputs.append(child)
    return data, outputs


def pair_text(tree: nodes.Template, pairing: TextPairing) -> None:
    """Mark a parsed HTML template so that it writes its text beside its output."""
    data, outputs = output_children(tree)
    if len(data) != len(pairing.after_data) or len(outputs) != len(pairing.shown):
        raise TemplateAssertionError("the text pairing does not fit this template", 1)
    for node, text in zip(data, pairing.after_data, strict=True):
        node.herald_text = text  # type: ignore[attr-defined]
    for expr, shown in zip(outputs, pairing.shown, strict=True):
        expr.herald_shown = shown  # type: ignore[attr-defined]
    tree.herald_paired = True  # type: ignore[attr-defined]


def _unsafe(obj: Any, attribute: Any) -> str:
    return (
        f"access to attribute {attribute!r} of a {type(obj).__name__!r} object is unsafe "
        "and not allowed in templates"
    )


def _too_long(size: int, limit: int) -> str:
    return f"would build {size:,} characters or items, over the limit of {limit:,}"


def _check_len(value: Any, limit: int) -> Any:
    if len(value) > limit:
        raise RenderLimitError(_too_long(len(value), limit))
    return value


def _check_repeat(left: Any, right: Any, limit: int) -> None:
    if isinstance(left, int) and isinstance(right, (str, list, tuple)):
        left, right = right, left
    if isinstance(left, (str, list, tuple)) and isinstance(right, int):
        if len(left) * right > limit:
            raise RenderLimitError(_too_long(len(left) * right, limit))
    elif (
        isinstance(left, int)
        and isinstance(right, int)
        and left.bit_length() + right.bit_length() > MAX_POWER_BITS
    ):
        raise RenderLimitError(f"computes a product over {MAX_POWER_BITS:,} bits, not allowed")


def _check_power(left: Any, right: Any) -> None:
    if (
        isinstance(left, int)
        and isinstance(right, int)
        and right > 0
        and abs(left) > 1
        and (right > MAX_POWER_BITS or abs(left).bit_length() * right > MAX_POWER_BITS)
    ):
        raise RenderLimitError(f"computes a power over {MAX_POWER_BITS:,} bits, not allowed")


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _check_percent_format(source: str, limit: int) -> None:
    for width, precision in _PERCENT_SPEC.findall(source):
        for number in (width, precision):
            if number == "*":
                raise RenderLimitError("uses a '*' width in a %-format, not allowed")
            if number and int(number) > limit:
                raise RenderLimitError(f"uses a format width of {int(number):,}, over the limit")


_DIGITS = re.compile(r"\d+")


def _check_format_spec(source: str, limit: int) -> None:
    try:
        fields = list(string.Formatter().parse(source))
    except ValueError:
        return  # str.format raises the same error itself
    for _literal, _field, spec, _conversion in fields:
        if not spec:
            continue
        if "{" in spec:
            raise RenderLimitError("uses nested format specifications, not allowed")
        for number in _DIGITS.findall(spec):
            if int(number) > limit:
                raise RenderLimitError(f"uses a format width of {int(number):,}, over the limit")


def _check_str_method(
    method: Any, args: tuple[Any, ...], kwargs: dict[str, Any], limit: int
) -> None:
    name = method.__name__
    text: str = method.__self__
    if name in ("center", "ljust", "rjust", "zfill"):
        width = args[0] if args else kwargs.get("width", 0)
        if isinstance(width, int) and width > limit:
            raise RenderLimitError(_too_long(width, limit))
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(size, int) and size * (text.count("\t") + 1) + len(text) > limit:
            raise RenderLimitError(_too_long(size * text.count("\t") + len(text), limit))
    elif name == "replace" and len(args) >= 2:
        _check_replace(text, args[0], args[1], limit)
    elif name == "join" and args:
        _check_join(text, args[0], limit)


def _check_replace(text: Any, old: Any, new: Any, limit: int) -> None:
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)):
        return
    count = text.count(old) if old else len(text) + 1
    size = len(text) + count * (len(new) - len(old))
    if size > limit:
        raise RenderLimitError(_too_long(size, limit))


def _check_join(separator: str, items: Any, limit: int) -> None:
    if isinstance(items, (list, tuple)):
        size = len(separator) * max(len(items) - 1, 0)
        size += sum(len(item) for item in items if isinstance(item, str))
        if size > limit:
            raise RenderLimitError(_too_long(size, limit))


def _checked_filter(builtin: Callable[..., Any], limit: int) -> Callable[..., Any]:
    """A built-in filter whose str or list result is checked against the size limit
    (`escape`, `urlencode`, `tojson`, ... grow text by a constant factor, which a loop
    could repeat)."""

    @wraps(builtin)  # keeps jinja_pass_arg, so Jinja passes the context as before
    def checked(*args: Any, **kwargs: Any) -> Any:
        result = builtin(*args, **kwargs)
        if isinstance(result, (str, list)) and len(result) > limit:
            raise RenderLimitError(_too_long(len(result), limit))
        return result

    return checked


def _size_guarded_filters(limit: int) -> dict[str, Callable[..., Any]]:
    """Jinja's filters that can multiply text, each checked before it runs."""

    @pass_eval_context
    def join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> str:
        items = value if isinstance(value, (list, tuple)) else list(value)
        if attribute is None:
            _check_join(str(d), items, limit)
        return _check_len(do_join(eval_ctx, items, d, attribute), limit)

    @pass_eval_context
    def replace(eval_ctx: Any, s: str, old: str, new: str, count: int | None = None) -> str:
        _check_replace(str(s), str(old), str(new), limit)
        return do_replace(eval_ctx, s, old, new, count)

    def center(value: str, width: int = 80) -> str:
        if isinstance(width, int) and width > limit:
            raise RenderLimitError(_too_long(width, limit))
        return do_center(value, width)

    def indent(s: str, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
        size = len(width) if isinstance(width, str) else int(width)
        if len(s) + size * (s.count("\n") + 1) > limit:
            raise RenderLimitError(_too_long(len(s) + size * (s.count("\n") + 1), limit))
        return do_indent(s, width, first, blank)

    def format(value: str, *args: Any, **kwargs: Any) -> str:
        _check_percent_format(str(value), limit)
        return _check_len(do_format(value, *args, **kwargs), limit)

    return {"join": join, "replace": replace, "center": center, "indent": indent, "format": format}


__all__ = [
    "GUARD_NAME",
    "RenderBudget",
    "RenderLimitError",
    "RenderLimits",
    "TemplateSandbox",
    "TextPairing",
    "TextSink",
    "current_budget",
    "escape_output",
    "output_children",
    "pair_text",
    "paired_output",
    "render_budget",
    "render_in_context",
    "render_limited",
    "text_sink",
]
