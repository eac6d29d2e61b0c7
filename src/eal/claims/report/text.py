"""The summary as plain text, laid out to paste line by line into an estimating platform.

Each included line is `CODE<TAB>DESCRIPTION<TAB>QTY<TAB>UNIT`: tab-separated, so
a spreadsheet or an estimating platform's line entry takes it column by column.
Only approved and edited lines (the final quantity) are in the paste block;
rejected and pending ones are listed after it, with why.
"""

from __future__ import annotations

from eal.claims.report.model import ClaimReport, ReportLine, decision_text, qty_text
from eal.kit.clock import isoformat


def _clean(text: str) -> str:
    # A tab or newline inside a field would shift the columns of the paste.
    return " ".join(text.split())


def _paste(line: ReportLine) -> str:
    return "\t".join((_clean(line.code), _clean(line.description), qty_text(line.qty), line.unit))


def render_text(report: ClaimReport) -> str:
    """The paste-ready text of the claim."""
    out = [
        f"CLAIM {report.id} - {report.loss_type.upper()} LOSS",
        f"Organization: {report.organization_name}",
    ]
    if report.job_external_ref:
        out.append(f"Job: {report.job_external_ref}")
    if report.address:
        out.append(f"Address: {_clean(report.address)}")
    if report.date_of_loss:
        out.append(f"Date of loss: {report.date_of_loss.isoformat()}")
    if report.water_category or report.water_class:
        out.append(
            f"Water: category {report.water_category or '-'}, class {report.water_class or '-'}"
        )
    out.append(f"Status: {report.status}; photos: {report.photo_count}")
    out.append(f"Generated: {isoformat(report.generated_at) or ''}")
    out.append("")
    out.append("LINE ITEMS (CODE, DESCRIPTION, QTY, UNIT; tab-separated)")
    excluded: list[tuple[str, ReportLine]] = []
    for room in report.rooms:
        dims = f" ({room.dimensions})" if room.dimensions else ""
        out.append("")
        out.append(f"ROOM: {_clean(room.name)}{dims}")
        for line in room.lines:
            if line.included:
                out.append(_paste(line))
            else:
                excluded.append((room.name, line))
    if excluded:
        out.append("")
        out.append("NOT INCLUDED")
        for room_name, line in excluded:
            out.append(
                f"{_clean(room_name)}: {_clean(line.code)} {_clean(line.description)} "
                f"{qty_text(line.qty)} {line.unit} - {_clean(decision_text(line))}"
            )
    if report.drying_log:
        out.append("")
        out.append("DRYING LOG (time, room, temp F, RH %, GPP)")
        for row in report.drying_log:
            out.append(
                "\t".join(
                    (
                        isoformat(row.taken_at) or "",
                        _clean(row.room),
                        f"{row.temp_f:g}",
                        f"{row.rh_pct:g}",
                        f"{row.gpp:.1f}",
                    )
                )
            )
    return "\n".join(out) + "\n"
