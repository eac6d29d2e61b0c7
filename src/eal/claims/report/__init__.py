"""The claim's summary: a PDF for the file and plain text to paste into the estimate."""

from eal.claims.report.model import (
    ClaimReport,
    ReportDryingRow,
    ReportLine,
    ReportPhoto,
    ReportRoom,
    decision_text,
    qty_text,
)
from eal.claims.report.pdf import render_pdf
from eal.claims.report.text import render_text

__all__ = [
    "ClaimReport",
    "ReportDryingRow",
    "ReportLine",
    "ReportPhoto",
    "ReportRoom",
    "decision_text",
    "qty_text",
    "render_pdf",
    "render_text",
]
