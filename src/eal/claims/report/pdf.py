"""The summary as a PDF (fpdf2, core fonts): loss summary, rooms with sketches, lines, equipment,
drying log, photos by room."""

from __future__ import annotations

import io
import unicodedata
from datetime import datetime

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from eal.claims.report.model import (
    ClaimReport,
    ReportLine,
    ReportPhoto,
    ReportRoom,
    decision_text,
    qty_text,
)

# Characters the core fonts (latin-1) lack, spelled as they read.
_ASCII = str.maketrans(
    {
        "\u2014": "-",
        "\u2013": "-",
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2026": "...",
        "\u00d7": "x",
        "\u2022": "-",
        "\u00a0": " ",
    }
)
THUMB_MM = 42.0
PAGE_W = 215.9
MARGIN = 12.0


def latin(text: str | None) -> str:
    """`text` in the core fonts' latin-1: look-alikes for the rest, accents kept where possible."""
    if not text:
        return ""
    text = text.translate(_ASCII)
    out = []
    for char in text:
        if ord(char) < 256:
            out.append(char)
            continue
        base = unicodedata.normalize("NFKD", char).encode("latin-1", "ignore").decode("latin-1")
        out.append(base or "?")
    return "".join(out)


def _time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else "-"


class _Pdf(FPDF):
    def __init__(self, report: ClaimReport) -> None:
        super().__init__(orientation="P", unit="mm", format="Letter")
        self.report = report
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(True, margin=15)
        self.set_title(latin(f"Claim {report.id}"))
        self.set_creator("eal")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.cell(0, 5, latin(f"{self.report.id} - page {self.page_no()}/{{nb}}"), align="C")

    def heading(self, text: str, size: int = 14) -> None:
        self.set_font("Helvetica", "B", size)
        self.cell(0, 8, latin(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font("Helvetica", size=9)

    def pair(self, label: str, value: str) -> None:
        self.set_font("Helvetica", "B", 9)
        self.cell(40, 5, latin(label))
        self.set_font("Helvetica", size=9)
        self.multi_cell(0, 5, latin(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _summary(pdf: _Pdf, report: ClaimReport) -> None:
    pdf.heading(f"Claim documentation {report.id}", 16)
    pdf.set_font("Helvetica", "I", 8)
    pdf.multi_cell(
        0,
        4,
        "A documentation draft for entry into the estimating platform: quantities, evidence "
        "and review decisions. It is not an estimate and carries no prices.",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(2)
    pdf.pair("Organization", report.organization_name)
    pdf.pair("Loss type", report.loss_type)
    if report.water_category or report.water_class:
        pdf.pair(
            "Water", f"category {report.water_category or '-'}, class {report.water_class or '-'}"
        )
    pdf.pair("Date of loss", report.date_of_loss.isoformat() if report.date_of_loss else "-")
    pdf.pair("Address", report.address or "-")
    pdf.pair("Job reference", report.job_external_ref or "-")
    pdf.pair("Status", report.status)
    pdf.pair("Reviewed at", _time(report.reviewed_at))
    pdf.pair("Photos", str(report.photo_count))
    pdf.pair("Generated at", _time(report.generated_at))


def _sketch(pdf: _Pdf, room: ReportRoom) -> None:
    if room.length_ft is None or room.width_ft is None:
        return
    scale = min(60 / max(room.length_ft, room.width_ft), 4.0)
    w, h = room.length_ft * scale, room.width_ft * scale
    if pdf.get_y() + h + 12 > pdf.h - 15:
        pdf.add_page()
    x, y = MARGIN + 10, pdf.get_y() + 4
    pdf.set_draw_color(60, 60, 60)
    pdf.rect(x, y, w, h)
    pdf.set_font("Helvetica", size=7)
    pdf.text(x + w / 2 - 4, y - 1, f"{room.length_ft:g} ft")
    pdf.text(x + w + 1.5, y + h / 2, f"{room.width_ft:g} ft")
    pdf.set_y(y + h + 4)


_COLUMNS = (
    ("Code", 24),
    ("Description", 78),
    ("Qty", 18),
    ("Unit", 12),
    ("Decision", 40),
    ("Conf.", 0),
)


def _line_count(pdf: _Pdf, text: str, width: float) -> int:
    lines = pdf.multi_cell(width, 4, text, dry_run=True, output="LINES")
    return max(1, len(lines)) if isinstance(lines, list) else 1


def _lines(pdf: _Pdf, lines: tuple[ReportLine, ...]) -> None:
    pdf.set_font("Helvetica", "B", 8)
    widths = [w or (PAGE_W - 2 * MARGIN - sum(c[1] for c in _COLUMNS)) for _, w in _COLUMNS]
    for (title, _), width in zip(_COLUMNS, widths, strict=True):
        pdf.cell(width, 5, title, border="B")
    pdf.ln()
    pdf.set_font("Helvetica", size=8)
    for line in lines:
        description = line.description
        if line.units is not None and line.days is not None:
            description += (
                f" ({line.units} units x {line.days} days{', estimated' if line.estimated else ''})"
            )
        if line.needs_measurement:
            description += " [needs measurement]"
        cells = (
            line.code,
            description,
            qty_text(line.qty),
            line.unit,
            decision_text(line),
            f"{line.confidence:.2f}",
        )
        texts = [latin(text) for text in cells]
        rows = max(_line_count(pdf, t, w) for t, w in zip(texts, widths, strict=True))
        if pdf.get_y() + 4 * rows > pdf.h - 18:
            pdf.add_page()
        if line.decision == "reject":
            pdf.set_text_color(150, 30, 30)
        y = pdf.get_y()
        x = MARGIN
        for text, width in zip(texts, widths, strict=True):
            pdf.set_xy(x, y)
            pdf.multi_cell(width, 4, text, new_x=XPos.RIGHT, new_y=YPos.TOP)
            x += width
        pdf.set_text_color(0, 0, 0)
        pdf.set_xy(MARGIN, y + 4 * max(1, rows) + 0.5)


def _room(pdf: _Pdf, room: ReportRoom) -> None:
    if pdf.get_y() > pdf.h - 60:
        pdf.add_page()
    pdf.heading(room.name, 12)
    facts = [room.dimensions]
    if room.floor_sf is not None:
        facts.append(f"floor {qty_text(room.floor_sf)} SF")
    if room.perimeter_lf is not None:
        facts.append(f"perimeter {qty_text(room.perimeter_lf)} LF")
    if room.floor_material:
        facts.append(f"floor {room.floor_material.replace('_', ' and ')}")
    if room.wall_material:
        facts.append(f"walls {room.wall_material}")
    pdf.multi_cell(
        0, 5, latin(", ".join(f for f in facts if f)), new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    _sketch(pdf, room)
    if room.lines:
        _lines(pdf, room.lines)
    else:
        pdf.cell(0, 5, "No scope lines.", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)


def _equipment_and_drying(pdf: _Pdf, report: ClaimReport) -> None:
    equipment = [
        (room.name, line) for room in report.rooms for line in room.lines if line.unit == "DAY"
    ]
    if equipment:
        pdf.add_page()
        pdf.heading("Equipment")
        for name, line in equipment:
            estimated = ", estimated" if line.estimated else ""
            pdf.multi_cell(
                0,
                5,
                latin(
                    f"{name}: {line.code} {line.description} - {line.units} units x "
                    f"{line.days} days = {qty_text(line.qty)} DAY{estimated} ({decision_text(line)})"
                ),
                new_x=XPos.LMARGIN,
                new_y=YPos.NEXT,
            )
    if report.drying_log:
        pdf.ln(3)
        pdf.heading("Drying log")
        pdf.set_font("Helvetica", "B", 8)
        for title, width in (
            ("Taken at", 45),
            ("Room", 60),
            ("Temp F", 20),
            ("RH %", 20),
            ("GPP", 20),
        ):
            pdf.cell(width, 5, title, border="B")
        pdf.ln()
        pdf.set_font("Helvetica", size=8)
        for row in report.drying_log:
            pdf.cell(45, 5, _time(row.taken_at))
            pdf.cell(60, 5, latin(row.room)[:40])
            pdf.cell(20, 5, f"{row.temp_f:g}")
            pdf.cell(20, 5, f"{row.rh_pct:g}")
            pdf.cell(20, 5, f"{row.gpp:.1f}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _photos(pdf: _Pdf, title: str, photos: tuple[ReportPhoto, ...]) -> None:
    if not photos:
        return
    if pdf.get_y() > pdf.h - 80:
        pdf.add_page()
    pdf.heading(f"Photos: {title} ({len(photos)})", 11)
    per_row = int((PAGE_W - 2 * MARGIN) // (THUMB_MM + 4))
    row_top = pdf.get_y()
    for index, photo in enumerate(photos):
        column = index % per_row
        if column == 0:
            if index:
                pdf.set_y(row_top + THUMB_MM + 12)
            if pdf.get_y() + THUMB_MM + 12 > pdf.h - 15:
                pdf.add_page()
            row_top = pdf.get_y()
        x = MARGIN + column * (THUMB_MM + 4)
        if photo.thumbnail:
            try:
                pdf.image(
                    io.BytesIO(photo.thumbnail),
                    x=x,
                    y=row_top,
                    w=THUMB_MM,
                    h=THUMB_MM * 0.75,
                    keep_aspect_ratio=True,
                )
            except (ValueError, OSError, RuntimeError):
                pdf.rect(x, row_top, THUMB_MM, THUMB_MM * 0.75)
        else:
            pdf.rect(x, row_top, THUMB_MM, THUMB_MM * 0.75)
        pdf.set_font("Helvetica", size=6)
        caption = _time(photo.captured_at)
        if photo.duplicate:
            caption += " (duplicate)"
        pdf.set_xy(x, row_top + THUMB_MM * 0.75 + 0.5)
        pdf.multi_cell(
            THUMB_MM,
            3,
            latin(caption + "\n" + ", ".join(photo.tags))[:120],
            new_x=XPos.RIGHT,
            new_y=YPos.TOP,
        )
    pdf.set_y(row_top + THUMB_MM + 12)


def render_pdf(report: ClaimReport) -> bytes:
    """The claim's summary PDF."""
    pdf = _Pdf(report)
    pdf.add_page()
    _summary(pdf, report)
    pdf.ln(4)
    pdf.heading("Rooms and scope")
    if not report.rooms:
        pdf.cell(0, 5, "No rooms recorded yet.", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for room in report.rooms:
        _room(pdf, room)
    _equipment_and_drying(pdf, report)
    if any(room.photos for room in report.rooms) or report.unassigned_photos:
        pdf.add_page()
        for room in report.rooms:
            _photos(pdf, room.name, room.photos)
        _photos(pdf, "not assigned to a room", report.unassigned_photos)
    return bytes(pdf.output())
