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
from eal.claims.report.text import render_text


def render_pdf(report: ClaimReport) -> bytes:
    """The summary PDF of `report`.

    fpdf2 is imported on the first PDF, not with the service: with fontTools and
    numpy, which it loads, it is about 30 MB that an idle server does not need.
    """
    from eal.claims.report.pdf import render_pdf as render

    return render(report)


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
