"""Step templates: what the sandboxed language refuses at save time, and how it renders."""

from __future__ import annotations

import random

import pytest

from eal.outreach import templates
from eal.outreach.templates import (
    TEMPLATE_MAX_LENGTH,
    TEMPLATE_VARIABLES,
    TemplateProblem,
    check_template,
    render_html,
    render_text,
    text_to_html,
)

PERSON = {
    "first_name": "Sarah",
    "last_name": "Lee",
    "company": "Acme Properties",
    "org_name": "PuroClean of West Cobb",
    "sender_name": "Dan",
}
ALLOWED_LIST = "company, first_name, last_name, org_name, sender_name"


def _refusal(source: str) -> TemplateProblem:
    with pytest.raises(TemplateProblem) as caught:
        check_template(source)
    return caught.value


def test_the_variables_are_the_five_of_the_sequence_contract() -> None:
    assert frozenset({"first_name", "last_name", "company", "org_name", "sender_name"}) == (
        TEMPLATE_VARIABLES
    )


@pytest.mark.parametrize(
    "source",
    [
        "",
        "No variables at all.",
        "Hi {{ first_name }} {{ last_name }} of {{ company }}, {{ sender_name }} at {{ org_name }}",
        "{{ first_name | default('there') | title }}",
        "{{ first_name|d('there') }} {{ company | upper }} {{ org_name|lower|trim|capitalize }}",
        "{{ first_name | default(company) }}",
        "{% if company %}at {{ company }}{% elif org_name %}x{% else %}y{% endif %}",
        "{% if company == 'Acme' and not first_name or 'LLC' in company %}z{% endif %}",
        "{% if company != '' and 'Inc' not in company %}z{% endif %}",
        "{{ first_name ~ ' ' ~ last_name }} {{ company if company else 'your company' }}",
        "{{ company if company }} {{ (company if first_name) | upper }}",
        "{# a comment #}{% raw %}{{ not_a_variable }}{% endraw %}",
        "{%- if first_name -%} Hi {{ first_name }} {%- endif %}",
    ],
)
def test_the_allowed_language_is_accepted(source: str) -> None:
    check_template(source)
    assert "None" not in render_text(source, {})


@pytest.mark.parametrize(
    ("source", "line", "expected"),
    [
        ("Hi\n\n{{ first_name", 3, "line 3: syntax error: unexpected end of template"),
        ("{% if company %}x", 1, "syntax error: Unexpected end of template"),
        ("{{ first_name }", 1, "line 1: syntax error"),
        ("{% frobnicate %}", 1, "syntax error: Encountered unknown tag 'frobnicate'"),
        (
            "Hi\n{{ frist_name }}",
            2,
            f"line 2: unknown variable 'frist_name'; the variables are {ALLOWED_LIST}",
        ),
        (
            "{{ email }} {{ phone }} {{ email }}",
            1,
            f"unknown variables 'email', 'phone'; the variables are {ALLOWED_LIST}",
        ),
        ("{{ self }}", 1, "unknown variable 'self'"),
        ("{{ cycler }}", 1, "unknown variable 'cycler'"),
        ("{{ first_name.__class__ }}", 1, "attribute access (.__class__) is not allowed"),
        ("{{ ''.__class__ }}", 1, "attribute access (.__class__) is not allowed"),
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", 1, "calls are not allowed"),
        ("{{ company.upper }}", 1, "attribute access (.upper) is not allowed"),
        ("{{ first_name['x'] }}", 1, "item access ([...]) is not allowed"),
        ("{{ first_name[1:] }}", 1, "item access ([...]) is not allowed"),
        ("{% import 'mail.html' as mail %}", 1, "{% import %} is not allowed"),
        ("{% from 'mail.html' import x %}", 1, "{% from ... import %} is not allowed"),
        ("{% include 'footer.html' %}", 1, "{% include %} is not allowed"),
        ("{% extends 'base.html' %}", 1, "{% extends %} is not allowed"),
        ("{% block body %}{% endblock %}", 1, "{% block %} is not allowed"),
        ("{% macro m() %}x{% endmacro %}", 1, "{% macro %} is not allowed"),
        ("{% call m() %}x{% endcall %}", 1, "{% call %} is not allowed"),
        ("\n{% for c in company %}{{ c }}{% endfor %}", 2, "line 2: {% for %} is not allowed"),
        ("{% set x = 'a' %}", 1, "{% set %} is not allowed"),
        ("{% set x %}a{% endset %}", 1, "{% set %} is not allowed"),
        ("{% with x = 'a' %}{% endwith %}", 1, "{% with %} is not allowed"),
        ("{% filter upper %}x{% endfilter %}", 1, "{% filter %} is not allowed"),
        ("x\n{% autoescape false %}y{% endautoescape %}", 2, "{% autoescape %} is not allowed"),
        ("{{ range(10) }}", 1, "calls are not allowed"),
        ("{{ lipsum() }}", 1, "calls are not allowed"),
        ("{{ first_name | attr('__class__') }}", 1, "unknown filter 'attr'; the filters are"),
        ("{{ first_name | safe }}", 1, "unknown filter 'safe'"),
        ("{{ first_name | format('%s') }}", 1, "unknown filter 'format'"),
        ("{{ company | upper('x') }}", 1, "filter 'upper' takes no arguments"),
        ("{{ company | default('a', 'b') }}", 1, "filter 'default' takes one argument"),
        ("{{ company | default(boolean=true) }}", 1, "takes no named or spread arguments"),
        ("{{ 'ha' * 100000000 }}", 1, "arithmetic is not allowed"),
        ("{{ -company }}", 1, "arithmetic is not allowed"),
        ("{{ first_name is defined }}", 1, "tests (`is ...`) are not allowed"),
        ("{{ 42 }}", 1, "only text constants are allowed ('...'), not 42"),
        ("{% if first_name == none %}x{% endif %}", 1, "only text constants"),
        ("{% if company > 'a' %}x{% endif %}", 1, "only ==, !=, in and not in"),
        ("{{ [first_name] }}", 1, "lists are not allowed"),
        ("{{ (first_name, company) }}", 1, "tuples are not allowed"),
        ("{{ {'a': first_name} }}", 1, "dictionaries are not allowed"),
        ("{{ (company if first_name) in org_name }}", 1, "`in` and `not in` compare texts"),
        ("{{ (not company) in org_name }}", 1, "`in` and `not in` compare texts"),
        ("{{ company not in (org_name == 'x') }}", 1, "`in` and `not in` compare texts"),
    ],
)
def test_every_refusal_names_its_reason_and_line(source: str, line: int, expected: str) -> None:
    problem = _refusal(source)
    assert expected in problem.message
    assert str(problem) == problem.message
    assert problem.line == line
    assert isinstance(problem, ValueError)  # usable as a pydantic validator's error


def test_the_check_is_static_so_a_branch_that_never_runs_is_checked_too() -> None:
    assert (
        "unknown variable 'phone'"
        in _refusal("{% if company == 'never' %}{{ phone }}{% endif %}").message
    )
    assert (
        "attribute access"
        in _refusal("{% if 'x' in 'y' %}{{ org_name.__init__ }}{% endif %}").message
    )


def test_the_first_problem_in_document_order_is_reported() -> None:
    assert "{% import %}" in _refusal("{% import 'x' as y %}{{ nope }}").message
    assert "unknown variable 'nope'" in _refusal("{{ nope }}{% import 'x' as y %}").message


def test_oversized_and_deeply_nested_templates_are_refused_cleanly() -> None:
    assert "at most" in _refusal("x" * (TEMPLATE_MAX_LENGTH + 1)).message
    check_template("x" * TEMPLATE_MAX_LENGTH)
    deep = "{{ " + "(" * 5000 + "first_name" + ")" * 5000 + " }}"
    assert _refusal(deep).message == "the template is nested too deeply"


def test_rendering_refuses_what_the_check_refuses() -> None:
    for source in ("{{ first_name.__class__ }}", "{{ nope }}", "{% import 'x' as y %}"):
        with pytest.raises(TemplateProblem):
            render_text(source, PERSON)
        with pytest.raises(TemplateProblem):
            render_html(source, PERSON)


def test_values_render_as_given() -> None:
    source = "Hi {{ first_name }} {{ last_name }},\n{{ sender_name }} from {{ org_name }}."
    assert render_text(source, PERSON) == "Hi Sarah Lee,\nDan from PuroClean of West Cobb."
    assert render_text("{{ company | upper }} {{ first_name | lower }}", PERSON) == (
        "ACME PROPERTIES sarah"
    )


def test_missing_values_render_as_nothing_and_their_gaps_close() -> None:
    source = "Hi {{ first_name }},\nThanks from {{ org_name }}!\n\n{{ sender_name }}\n{{ company }}"
    expected = "Hi,\nThanks from!"
    assert render_text(source, {}) == expected
    assert render_text(source, dict.fromkeys(TEMPLATE_VARIABLES)) == expected
    assert render_text(source, dict.fromkeys(TEMPLATE_VARIABLES, "  \t ")) == expected
    assert "None" not in render_text("{{ first_name }}{{ company }}", {"first_name": None})
    # Between words a gap keeps one space; at the start of a line the indentation stays.
    assert render_text("Dear {{ first_name }} {{ last_name }} Lee", {}) == "Dear Lee"
    assert render_text("  {{ first_name }} and you", {}) == "  and you"
    assert render_text("({{ company }})", {}) == "()"
    # Only empty values are tidied: the author's own spacing stays as written.
    assert render_text("A  :  b", {}) == "A  :  b"


def test_default_replaces_missing_and_blank_values() -> None:
    source = "Hi {{ first_name | default('there') }}, {{ company | d(org_name) }}"
    assert render_text(source, {"org_name": "PuroClean"}) == "Hi there, PuroClean"
    assert render_text(source, {"first_name": " ", "company": ""}) == "Hi there,"
    assert render_text(source, PERSON) == "Hi Sarah, Acme Properties"


def test_if_blocks_leave_no_stray_lines() -> None:
    source = (
        "Hello{% if first_name %} {{ first_name }}{% endif %},\n"
        "{% if company %}\n"
        "We work with {{ company }}.\n"
        "{% endif %}\n"
        "Bye"
    )
    assert render_text(source, PERSON) == "Hello Sarah,\nWe work with Acme Properties.\nBye"
    assert render_text(source, {}) == "Hello,\nBye"


def test_whitespace_is_tidied() -> None:
    source = "\n\n  \nHello   \n\n\n\n\nworld\t\n\n"
    assert render_text(source, {}) == "Hello\n\nworld"
    assert render_text("{{ company }}\n\nHello", {}) == "Hello"


def test_values_are_one_line_of_inert_text() -> None:
    values = {
        "first_name": "Ann\nSTOP\r\nnow",
        "last_name": "Lee\x00\x07\x1b[31m",
        "company": "{{ org_name }} {% import 'x' as y %}",
        "org_name": "Org\ue000",
    }
    rendered = render_text("{{ first_name }}|{{ last_name }}|{{ company }}|{{ org_name }}", values)
    assert rendered == "Ann STOP now|Lee [31m|{{ org_name }} {% import 'x' as y %}|Org"


def test_unknown_keys_in_the_values_are_ignored() -> None:
    assert render_text("{{ first_name }}", {"first_name": "Ann", "phone": "+1"}) == "Ann"


def test_html_escapes_values_and_text_and_builds_paragraphs() -> None:
    source = (
        "Hi {{ first_name }} & co,\n"
        "about {{ company }}:\n"
        "\n"
        "See https://example.com/a?b=1&c=2 or <b>call</b>.\n"
        "\n\n\n"
        "{{ sender_name }}"
    )
    values = {
        "first_name": '<script>alert("x")</script>',
        "company": '<a href="https://evil.example">Click</a>',
        "sender_name": "O'Brien",
    }
    assert render_html(source, values) == (
        "<p>Hi &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co,<br>\n"
        "about &lt;a href=&quot;https://evil.example&quot;&gt;Click&lt;/a&gt;:</p>\n"
        "<p>See https://example.com/a?b=1&amp;c=2 or &lt;b&gt;call&lt;/b&gt;.</p>\n"
        "<p>O&#x27;Brien</p>"
    )
    assert "<a" not in render_html("{{ company }} https://example.com", values)


def test_html_of_nothing_is_nothing() -> None:
    assert render_html("{{ first_name }}", {}) == ""
    assert text_to_html("") == ""
    assert text_to_html("one\ntwo") == "<p>one<br>\ntwo</p>"


def test_a_template_is_compiled_once_per_source() -> None:
    source = "Cached {{ first_name }} {{ last_name }}"
    check_template(source)
    before = templates._compiled.cache_info()
    for name in ("Ann", "Bob", "Cy"):
        assert render_text(source, {"first_name": name}) == f"Cached {name}"
    render_html(source, PERSON)
    after = templates._compiled.cache_info()
    assert after.hits - before.hits == 4
    assert after.misses == before.misses


def _expression(rng: random.Random, depth: int) -> str:
    leaves = [*sorted(TEMPLATE_VARIABLES), "'x'", "''", "'LLC'"]
    if depth == 0 or rng.random() < 0.3:
        # Now and then a leaf the check must refuse.
        return rng.choice(["nope", "1", "none"]) if rng.random() < 0.03 else rng.choice(leaves)
    a, b, c = (_expression(rng, depth - 1) for _ in range(3))
    if rng.random() < 0.02:  # now and then a construct the check must refuse
        return rng.choice([f"{a}.x", f"{a}[0]", f"({a} * 2)", f"({a} < {b})"])
    return rng.choice(
        [
            f"({a} ~ {b})",
            f"({a} if {b} else {c})",
            f"({a} if {b})",
            f"({a} | {rng.choice(['upper', 'title', 'trim', 'default', 'capitalize'])})",
            f"({a} | default({b}))",
            f"(not {a})",
            f"({a} and {b})",
            f"({a} or {b})",
            f"({a} {rng.choice(['==', '!=', 'in', 'not in'])} {b})",
        ]
    )


def test_whatever_the_check_accepts_renders_without_failing() -> None:
    rng = random.Random(20260427)
    values = [None, "", " ", "Ann", "LLC", "{{ x }}"]
    accepted = 0
    for _ in range(400):
        a, b = _expression(rng, 3), _expression(rng, 3)
        source = rng.choice(
            [
                f"Hi {{{{ {a} }}}}, {{{{ {b} }}}}!",
                f"{{% if {a} %}}\n{{{{ {b} }}}}\n{{% elif {b} %}}x{{% else %}}y{{% endif %}}",
            ]
        )
        try:
            check_template(source)
        except TemplateProblem:
            continue
        accepted += 1
        person = {name: rng.choice(values) for name in TEMPLATE_VARIABLES}
        assert "None" not in render_text(source, person).replace("none", "")
        render_html(source, person)
    assert 100 < accepted < 400  # both the allowed language and refusals are exercised
