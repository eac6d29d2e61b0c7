"""Sequence step templates: Jinja2 in a sandbox, with five variables and nothing else.

A step's subject and body are plain text with `{{ variables }}`, a few string
filters and `{% if %}`. `check_template` proves that statically when a
sequence is saved, so a template that would fail, reach outside its
variables, or loop cannot be stored; rendering runs the same check (once per
source, cached with the compiled template) before anything is sent.

The language allowed:

- the variables of `TEMPLATE_VARIABLES`, used as they are (no `.attr`,
  `[item]` or calls);
- text constants (`'there'`), `~` (concatenation), `and`, `or`, `not`,
  `==`, `!=`, `in` and `not in` (between texts), `x if y else z` (without
  the else, `''` when y is false);
- the filters of `TEMPLATE_FILTERS`; `default('there')` replaces a value that
  is missing or blank (values are never undefined: a missing one is `''`);
- `{% if %}`, `{% elif %}`, `{% else %}`, `{% raw %}` and `{# comments #}`.

Everything else (`{% import %}`, `{% include %}`, `{% for %}`, `{% set %}`,
`{% macro %}`, arithmetic, lists...) is refused with a `TemplateProblem`
naming the line. Nothing allowed can loop or multiply text, so a rendering
costs in proportion to the template and its values, never more.

`render_text` gives the SMS / plain-text form; `render_html` the HTML part of
an email, built from that same text: every character (the author's and the
values) is escaped, blank lines make paragraphs, line breaks `<br>`. The body
is plain text, so no value can inject markup or a link, and URLs stay text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from functools import lru_cache

from jinja2 import TemplateSyntaxError, meta, nodes
from jinja2.environment import Template
from jinja2.runtime import Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

TEMPLATE_VARIABLES: frozenset[str] = frozenset(
    {"first_name", "last_name", "company", "org_name", "sender_name"}
)
"""The only names a template may use."""

TEMPLATE_MAX_LENGTH = 100_000
"""Characters a template may hold (compiling costs in proportion)."""

# Marks an expression that rendered empty, so the tidy pass can close the gap it
# leaves ("Hi {{ first_name }}," -> "Hi,"). A private-use character: never in a
# message, and removed from the sources and values before rendering.
_EMPTY = "\ue000"
_GAP = re.compile(r"(?P<pre>[ \t]*)\ue000(?:[ \t]*\ue000)*(?P<post>[ \t]*)")
_CLOSING = frozenset(",.;:!?)]}")
_OPENING = frozenset("([{")
_BLANK_LINES = re.compile(r"\n{3,}")
_PARAGRAPH_BREAK = re.compile(r"\n{2,}")
# C0 and C1 control characters (whitespace among them is collapsed separately).
_CONTROLS: dict[int, str | None] = dict.fromkeys(
    [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)], " "
)
_CONTROLS[ord(_EMPTY)] = None

_VARIABLE_LIST = ", ".join(sorted(TEMPLATE_VARIABLES))
_STATEMENTS: dict[type[nodes.Node], str] = {
    nodes.Import: "import",
    nodes.FromImport: "from ... import",
    nodes.Include: "include",
    nodes.Extends: "extends",
    nodes.Block: "block",
    nodes.Macro: "macro",
    nodes.CallBlock: "call",
    nodes.For: "for",
    nodes.Assign: "set",
    nodes.AssignBlock: "set",
    nodes.With: "with",
    nodes.FilterBlock: "filter",
    nodes.ScopedEvalContextModifier: "autoescape",
    nodes.EvalContextModifier: "autoescape",
    nodes.Scope: "autoescape",
    nodes.ExprStmt: "do",
    nodes.Break: "break",
    nodes.Continue: "continue",
}
_EXPRESSIONS: dict[type[nodes.Node], str] = {
    nodes.Call: "calls are",
    nodes.Test: "tests (`is ...`) are",
    nodes.BinExpr: "arithmetic is",
    nodes.UnaryExpr: "arithmetic is",
    nodes.Tuple: "tuples are",
    nodes.List: "lists are",
    nodes.Dict: "dictionaries are",
    nodes.Slice: "slices are",
}
_COMPARISONS = frozenset({"eq", "ne", "in", "notin"})
# The containers and operators allowed; their children are checked in turn.
_PASS_THROUGH = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.If,
    nodes.CondExpr,
    nodes.And,
    nodes.Or,
    nodes.Not,
    nodes.Concat,
)


class TemplateProblem(ValueError):
    """A template that cannot be saved or rendered; `message` says why (and on which line)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def _text(value: object) -> str:
    # Undefined comes only from `x if y` without an else: it reads as nothing.
    return "" if isinstance(value, Undefined) else str(value)


def _default(value: object, fallback: object = "") -> str:
    """`fallback` when the value is missing or blank (values are `''`, never undefined)."""
    text = _text(value)
    return text if text.strip() else _text(fallback)


def _finalize(value: object) -> str:
    text = _text(value)
    return text if text.strip() else _EMPTY


TEMPLATE_FILTERS: frozenset[str] = frozenset(
    {"capitalize", "default", "d", "lower", "title", "trim", "upper"}
)
"""Filters a template may apply; only `default` / `d` takes an argument (one text)."""

_ONE_TEXT_ARGUMENT = frozenset({"default", "d"})


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize,
    )
    builtin = env.filters
    env.filters = {name: builtin[name] for name in TEMPLATE_FILTERS - _ONE_TEXT_ARGUMENT}
    env.filters["default"] = env.filters["d"] = _default
    # Nothing reachable beyond the variables: no range(), dict(), lipsum(), namespace().
    env.globals.clear()
    env.tests.clear()
    return env


_ENV = _environment()


def _problem(node: nodes.Node, message: str) -> TemplateProblem:
    line = getattr(node, "lineno", None)
    if line is None:  # a wrapper the parser made (`{% autoescape %}`): its first child's line
        line = next((getattr(child, "lineno", None) for child in node.iter_child_nodes()), None)
    return TemplateProblem(f"line {line}: {message}" if line else message, line)


def _unknown_names(names: list[str]) -> str:
    quoted = ", ".join(repr(name) for name in names)
    noun = "variable" if len(names) == 1 else "variables"
    return f"unknown {noun} {quoted}; the variables are {_VARIABLE_LIST}"


def _check_filter(node: nodes.Filter) -> TemplateProblem | None:
    if node.name not in TEMPLATE_FILTERS:
        allowed = ", ".join(sorted(TEMPLATE_FILTERS))
        return _problem(node, f"unknown filter {node.name!r}; the filters are {allowed}")
    if node.kwargs or node.dyn_args is not None or node.dyn_kwargs is not None:
        return _problem(node, f"filter {node.name!r} takes no named or spread arguments")
    if node.name in _ONE_TEXT_ARGUMENT:
        if len(node.args) > 1:
            return _problem(node, f"filter {node.name!r} takes one argument, e.g. default('there')")
    elif node.args:
        return _problem(node, f"filter {node.name!r} takes no arguments")
    return None


def _is_text(node: nodes.Node) -> bool:
    """Whether `node` always evaluates to text (`not` and comparisons give booleans)."""
    if isinstance(node, nodes.Name | nodes.Const | nodes.Concat | nodes.Filter):
        return True
    if isinstance(node, nodes.CondExpr):
        # Without an else the value may be Undefined, which `in` cannot take.
        return node.expr2 is not None and _is_text(node.expr1) and _is_text(node.expr2)
    if isinstance(node, nodes.And | nodes.Or):
        return _is_text(node.left) and _is_text(node.right)
    return False


def _check_node(node: nodes.Node, unknown: list[str]) -> TemplateProblem | None:
    """Why `node` itself is refused, or None (its children are checked separately)."""
    if isinstance(node, _PASS_THROUGH):
        return None
    if isinstance(node, nodes.Name):
        if node.ctx != "load" or node.name not in TEMPLATE_VARIABLES:
            return _problem(node, _unknown_names(unknown or [node.name]))
        return None
    if isinstance(node, nodes.Const):
        if not isinstance(node.value, str):
            return _problem(node, f"only text constants are allowed ('...'), not {node.value!r}")
        return None
    if isinstance(node, nodes.Compare):
        if any(operand.op not in _COMPARISONS for operand in node.ops):
            return _problem(node, "only ==, !=, in and not in comparisons are allowed")
        sides = [node.expr, *(operand.expr for operand in node.ops)]
        for index, operand in enumerate(node.ops):
            if operand.op in ("in", "notin") and not (
                _is_text(sides[index]) and _is_text(sides[index + 1])
            ):
                # `True in company` would fail when the message is sent, not now.
                return _problem(node, "`in` and `not in` compare texts, not conditions")
        return None
    if isinstance(node, nodes.Operand):
        return None
    if isinstance(node, nodes.Filter):
        return _check_filter(node)
    if isinstance(node, nodes.Getattr):
        return _problem(
            node, f"attribute access (.{node.attr}) is not allowed; use the variables as they are"
        )
    if isinstance(node, nodes.Getitem):
        return _problem(node, "item access ([...]) is not allowed; use the variables as they are")
    for statement, tag in _STATEMENTS.items():
        if isinstance(node, statement):
            return _problem(
                node,
                f"{{% {tag} %}} is not allowed; templates use {{{{ variables }}}}, "
                "filters and {% if %}",
            )
    for expression, what in _EXPRESSIONS.items():
        if isinstance(node, expression):
            return _problem(node, f"{what} not allowed in templates")
    return _problem(node, f"{type(node).__name__} is not allowed in templates")


def _walk(tree: nodes.Template) -> None:
    """Refuse the first node, in document order, outside the allowed language."""
    unknown = sorted({name.name for name in tree.find_all(nodes.Name)} - TEMPLATE_VARIABLES)
    # Iterative: a deeply nested template must not exhaust the stack here.
    stack: list[nodes.Node] = [tree]
    while stack:
        node = stack.pop()
        problem = _check_node(node, unknown)
        if problem is not None:
            raise problem
        stack.extend(reversed(list(node.iter_child_nodes())))
    # Jinja's own account of the names the template reads, once it is known to be
    # in the language: it must agree with the walk.
    undeclared = meta.find_undeclared_variables(tree) - TEMPLATE_VARIABLES
    if undeclared:
        raise TemplateProblem(_unknown_names(sorted(undeclared)))


@lru_cache(maxsize=1024)
def _compiled(source: str) -> Template:
    """The checked, compiled template of `source` (compiled once per distinct source)."""
    if len(source) > TEMPLATE_MAX_LENGTH:
        raise TemplateProblem(f"a template holds at most {TEMPLATE_MAX_LENGTH} characters")
    try:
        tree = _ENV.parse(source.replace(_EMPTY, ""))
        _walk(tree)
        return _ENV.from_string(tree)
    except TemplateSyntaxError as error:
        where = f"line {error.lineno}: " if error.lineno else ""
        raise TemplateProblem(f"{where}syntax error: {error.message}", error.lineno) from None
    except RecursionError:
        raise TemplateProblem("the template is nested too deeply") from None


def check_template(source: str) -> None:
    """Raise `TemplateProblem` unless `source` is a template this module will render.

    Refused: a syntax error, an unknown variable (named, with the allowed ones
    listed), attribute or item access, calls, and any statement beyond
    `{% if %}` (see the module docstring for the whole language).
    """
    _compiled(source)


def _clean_value(value: str | None) -> str:
    # One line of text: a value cannot add lines or control characters to a message.
    if not value:
        return ""
    return " ".join(value.translate(_CONTROLS).split())


def _close_gap(match: re.Match[str]) -> str:
    line = match.string
    if match.start() == 0:
        return match["pre"]  # keep the line's indentation, drop the space after the value
    if match.end() == len(line) or line[match.end()] in _CLOSING:
        return ""
    if line[match.start() - 1] in _OPENING:
        return ""
    return " " if match["pre"] or match["post"] else ""


def _tidy(text: str) -> str:
    """Close the gaps empty values left, drop lines they emptied, trim blank space."""
    lines = []
    for line in text.split("\n"):
        if _EMPTY in line:
            line = _GAP.sub(_close_gap, line)
            if not line.strip():
                continue  # the line held nothing but empty values
        lines.append(line.rstrip())
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip("\n")


def render_text(source: str, variables: Mapping[str, str | None]) -> str:
    """`source` rendered as plain text (SMS, the text part of an email).

    A variable missing from `variables` or None renders as nothing (never
    "None"), as does a blank one; the space or line it leaves is tidied away
    ("Hi {{ first_name }}," becomes "Hi,"). Values are put on one line
    (whitespace collapsed, control characters removed). Keys other than
    `TEMPLATE_VARIABLES` are ignored. Raises `TemplateProblem` for a template
    `check_template` refuses.
    """
    template = _compiled(source)
    context = {name: _clean_value(variables.get(name)) for name in TEMPLATE_VARIABLES}
    return _tidy(template.render(context))


def text_to_html(text: str) -> str:
    """Plain text as an HTML fragment: escaped, `<p>` per paragraph, `<br>` per line break."""
    paragraphs = _PARAGRAPH_BREAK.split(text.strip())
    return "\n".join(
        "<p>" + "<br>\n".join(html.escape(line) for line in paragraph.split("\n")) + "</p>"
        for paragraph in paragraphs
        if paragraph.strip()
    )


def render_html(source: str, variables: Mapping[str, str | None]) -> str:
    """`source` rendered as the HTML part of an email: `text_to_html(render_text(...))`.

    Every character is escaped (values and the template's own text alike), so
    a value can add neither markup nor a link; URLs stay plain text.
    """
    return text_to_html(render_text(source, variables))
