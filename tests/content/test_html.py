"""Markdown drafts become safe HTML for WordPress."""

from __future__ import annotations

from eal.content.html import markdown_to_html


def test_headings_lists_and_emphasis() -> None:
    html = markdown_to_html(
        "Intro with **bold** and *care*.\n\n## First steps\n\n- Shut off water\n- Call us\n\n"
        "### Then\n\n1. Dry\n2. Check\n\nLast line\ncontinues."
    )
    assert html.splitlines() == [
        "<p>Intro with <strong>bold</strong> and <em>care</em>.</p>",
        "<h2>First steps</h2>",
        "<ul>",
        "<li>Shut off water</li>",
        "<li>Call us</li>",
        "</ul>",
        "<h3>Then</h3>",
        "<ol>",
        "<li>Dry</li>",
        "<li>Check</li>",
        "</ol>",
        "<p>Last line continues.</p>",
    ]


def test_markup_in_a_draft_is_text_never_html() -> None:
    html = markdown_to_html('<script>alert(1)</script>\n\n## <img src=x onerror="y">')
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    # A top-level heading is published as H2: the post's title is its H1.
    assert markdown_to_html("# Title") == "<h2>Title</h2>"
