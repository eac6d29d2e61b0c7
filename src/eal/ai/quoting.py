"""The new part of an e-mail reply: what the sender wrote, without the message it answers.

Replies carry the message they answer below (or interleaved with) the new text. Left in,
our own outreach text would be read as the sender's words. `strip_quoted` cuts at the
first line that starts the quoted message, in the forms mail clients write:

- attribution lines: "On Mon, Mar 3, 2025 at 9:14 AM Jake <jake@x.com> wrote:" (possibly
  wrapped over two or three lines), Spanish "El lun, 3 mar 2025 a las 9:14, ... escribió:",
  and the Portuguese, French and German equivalents;
- separators: "-----Original Message-----", "----- Mensaje original -----",
  "---------- Forwarded message ---------", "Begin forwarded message:";
- Outlook's header block: a "From:"/"De:" line followed within a few lines by "Sent:",
  "Date:", "Enviado:" or "Fecha:" (often under a line of underscores);

and drops every line that starts with ">" and the stock "Sent from my iPhone" footers.
"""

from __future__ import annotations

import re

_ATTRIBUTION_START = re.compile(r"^\s*(?:on|el|em|le|am)\s", re.IGNORECASE)
_ATTRIBUTION_END = re.compile(
    r"(?:wrote|escribi[oó]|escreveu|a [ée]crit|schrieb)\s*:\s*$", re.IGNORECASE
)
_SEPARATOR = re.compile(
    r"^\s*(?:-{2,}\s*(?:original message|mensaje original|forwarded message|mensaje reenviado"
    r"|message transf[ée]r[ée]|urspr[üu]ngliche nachricht)\s*-{2,}"
    r"|begin forwarded message:|inicio del mensaje reenviado:|_{10,})\s*$",
    re.IGNORECASE,
)
_HEADER_FROM = re.compile(r"^\s*\*?(?:from|de|von)\s*:\*?\s*\S", re.IGNORECASE)
_HEADER_NEXT = re.compile(
    r"^\s*\*?(?:sent|date|enviado(?: el)?|fecha|to|para|subject|asunto|gesendet)\s*:",
    re.IGNORECASE,
)
_FOOTER = re.compile(
    r"^\s*(?:sent from my \w[\w ]*|sent from (?:yahoo )?mail for \w+|sent from outlook"
    r"|get outlook for \w+|enviado desde mi \w[\w ]*|obtener outlook para \w+"
    r"|sent via \w[\w ]*|sent from the \w+ app)\.?\s*$",
    re.IGNORECASE,
)


def strip_quoted(text: str) -> str:
    """The reply's own text: cut at the quoted message, without ">" lines or stock footers."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut = _quote_start(lines)
    kept = [
        line
        for line in lines[:cut]
        if not line.lstrip().startswith(">") and not _FOOTER.match(line)
    ]
    return "\n".join(kept).strip()


def _quote_start(lines: list[str]) -> int:
    """Index of the first line of the quoted message (len(lines) when there is none)."""
    for i, line in enumerate(lines):
        if _SEPARATOR.match(line):
            return i
        if _ATTRIBUTION_START.match(line):
            # The attribution may wrap: "On Mon, ... Jake <" / "jake@x.com> wrote:"
            for width in range(1, 4):
                candidate = " ".join(part.strip() for part in lines[i : i + width])
                if _ATTRIBUTION_END.search(candidate) and len(candidate) < 400:
                    return i
        if _HEADER_FROM.match(line) and any(
            _HEADER_NEXT.match(following) for following in lines[i + 1 : i + 5]
        ):
            return i
    return len(lines)
