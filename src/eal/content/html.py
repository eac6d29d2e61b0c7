"""Markdown to HTML for publishing: the subset drafts use, everything else kept as text.

Headings (`##`, `###`, `####`), paragraphs, bullet (`-`, `*`) and numbered (`1.`) lists,
`**bold**` and `*italic*`. Every character of the text is HTML-escaped first, so a draft
(an LLM's included) can never put markup or script into a published post.
"""

from __future__ import annotations

import html
import re

_HEADING = re.compile(r"^(#{1,4})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s*[-*]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+(.*)$")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![*\w])\*(?!\s)(.+?)(?<!\s)\*(?![*\w])")


def _inline(text: str) -> str:
    escaped = html.escape(text, quote=False)
    escaped = _BOLD.sub(r"<strong>\1</strong>", escaped)
    return _ITALIC.sub(r"<em>\1</em>", escaped)


def markdown_to_html(markdown: str) -> str:
    """The HTML of a Markdown draft."""
    out: list[str] = []
    paragraph: list[str] = []
    list_tag: str | None = None

    def close_paragraph() -> None:
        if paragraph:
            out.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()

    def close_list() -> None:
        nonlocal list_tag
        if list_tag is not None:
            out.append(f"</{list_tag}>")
            list_tag = None

    for raw in markdown.splitlines():
        line = raw.rstrip()
        if not line.strip():
            close_paragraph()
            close_list()
            continue
        heading = _HEADING.match(line)
        if heading:
            close_paragraph()
            close_list()
            level = max(2, len(heading.group(1)))
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
            continue
        item = _BULLET.match(line)
        numbered = None if item else _NUMBERED.match(line)
        if item or numbered:
            close_paragraph()
            tag = "ul" if item else "ol"
            if list_tag != tag:
                close_list()
                out.append(f"<{tag}>")
                list_tag = tag
            text = (item or numbered).group(1)  # type: ignore[union-attr]
            out.append(f"<li>{_inline(text)}</li>")
            continue
        close_list()
        paragraph.append(line.strip())
    close_paragraph()
    close_list()
    return "\n".join(out)
