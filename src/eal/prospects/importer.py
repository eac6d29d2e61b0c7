"""POST /prospects/import: prospects from a CSV file, row by row.

The file is UTF-8 (a byte-order mark is allowed), with a header row naming
columns among `schemas.FIELDS` (company_name required; names are matched
case-insensitively, spaces as underscores) and at most `MAX_IMPORT_ROWS` data
rows. A file that cannot be read that way is refused whole (422, nothing
stored). Otherwise each row stands alone: a valid row is created, an invalid
one is reported (`{row, field, message}`, one entry per problem), and a row
that duplicates a stored prospect or an earlier row is reported and skipped.
Rows are numbered as in a spreadsheet: the header is row 1.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from pydantic import ValidationError

from eal import events
from eal.db.tx import Tx
from eal.errors import ValidationFailed
from eal.events import Action
from eal.prospects import repository
from eal.prospects.schemas import (
    FIELDS,
    MAX_IMPORT_ROWS,
    ImportResult,
    ProspectCreate,
    RowError,
    SkippedRow,
)
from eal.prospects.service import new_values

_BOM = b"\xef\xbb\xbf"
_REQUIRED = "company_name"


def _refused(message: str, **details: Any) -> ValidationFailed:
    return ValidationFailed(
        f"file: {message}", details={"fields": [{"field": "file", "message": message}], **details}
    )


def _column(name: str) -> str:
    return re.sub(r"[\s-]+", "_", name.strip().lower())


def _decode(body: bytes) -> str:
    if body.startswith(_BOM):
        body = body[len(_BOM) :]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refused(f"is not UTF-8 text (byte {exc.start} cannot be decoded)") from None
    if "\x00" in text:
        raise _refused("contains NUL characters; it is not a CSV text file")
    if not text.strip():
        raise _refused("is empty: send a header row and at least one data row")
    return text


def _records(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header's column names and the data records (with their row numbers)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    header: list[str] | None = None
    number = 0
    try:
        for cells in reader:
            number += 1
            if header is None:
                header = [_column(c) for c in cells]
                continue
            if not any(c.strip() for c in cells):
                continue  # a blank line
            if len(records) >= MAX_IMPORT_ROWS:
                raise _refused(
                    f"has more than {MAX_IMPORT_ROWS:,} data rows", max_rows=MAX_IMPORT_ROWS
                )
            records.append((number, cells))
    except csv.Error as exc:
        raise _refused(f"is not valid CSV near line {reader.line_num}: {exc}") from None
    assert header is not None  # the text is not blank
    unknown = [c for c in header if c not in FIELDS]
    if unknown:
        raise _refused(
            f"unknown column(s) {', '.join(repr(c) for c in unknown)}; "
            f"the columns are {', '.join(FIELDS)}",
            unknown_columns=unknown,
        )
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise _refused(f"column(s) {', '.join(repeated)} appear more than once")
    if _REQUIRED not in header:
        raise _refused("the header must have a company_name column")
    if not records:
        raise _refused("has a header but no data rows")
    return header, records


def _fields_of(header: list[str], cells: list[str]) -> dict[str, Any]:
    # An empty cell is a value not given (a missing company_name reads "Field required").
    values: dict[str, Any] = {
        name: cell for name, cell in zip(header, cells, strict=False) if cell.strip()
    }
    vertical = values.get("vertical")
    if isinstance(vertical, str):
        values["vertical"] = _column(vertical) or None
    return values


def _problems(number: int, exc: ValidationError) -> list[RowError]:
    errors = []
    for error in exc.errors(include_input=False, include_url=False):
        field = str(error["loc"][0]) if error["loc"] else None
        message = error["msg"].removeprefix("Value error, ")
        errors.append(RowError(row=number, field=field, message=message))
    return errors


async def import_csv(tx: Tx, body: bytes) -> ImportResult:
    """Create the valid rows of a CSV file; report the invalid and duplicate ones."""
    header, records = _records(_decode(body))
    errors: list[RowError] = []
    valid: list[tuple[int, ProspectCreate]] = []
    for number, cells in records:
        if len(cells) > len(header):
            errors.append(
                RowError(
                    row=number,
                    field=None,
                    message=f"has {len(cells)} cells; the header has {len(header)} columns",
                )
            )
            continue
        try:
            valid.append((number, ProspectCreate.model_validate(_fields_of(header, cells))))
        except ValidationError as exc:
            errors.extend(_problems(number, exc))
    keys = {number: repository.company_key(p.company_name) for number, p in valid}
    stored_emails, stored_companies = await repository.existing_keys(
        tx.conn,
        tx.actor.organization_id,
        sorted({p.contact_email for _, p in valid if p.contact_email}),
        sorted({(keys[n], p.postal_code) for n, p in valid if p.postal_code}),
    )
    seen_emails: dict[str, int] = {}
    seen_companies: dict[tuple[str, str], int] = {}
    skipped: list[SkippedRow] = []
    rows: list[dict[str, Any]] = []
    for number, prospect in valid:
        email = prospect.contact_email
        pair = (keys[number], prospect.postal_code) if prospect.postal_code else None
        if email is not None and email in stored_emails:
            skipped.append(
                SkippedRow(
                    row=number,
                    reason="duplicate contact_email",
                    existing_prospect_id=stored_emails[email],
                )
            )
        elif pair is not None and pair in stored_companies:
            skipped.append(
                SkippedRow(
                    row=number,
                    reason="duplicate company in this postal code",
                    existing_prospect_id=stored_companies[pair],
                )
            )
        elif email is not None and email in seen_emails:
            skipped.append(
                SkippedRow(
                    row=number,
                    reason="duplicate contact_email",
                    duplicate_of_row=seen_emails[email],
                )
            )
        elif pair is not None and pair in seen_companies:
            skipped.append(
                SkippedRow(
                    row=number,
                    reason="duplicate company in this postal code",
                    duplicate_of_row=seen_companies[pair],
                )
            )
        else:
            if email is not None:
                seen_emails[email] = number
            if pair is not None:
                seen_companies[pair] = number
            rows.append(new_values(tx, prospect) | {"_row": number})
    numbers = [values.pop("_row") for values in rows]
    stored = set(await repository.insert_many(tx.conn, rows))
    created = []
    for number, values in zip(numbers, rows, strict=True):
        if values["id"] in stored:
            created.append(values["id"])
        else:  # stored by another request since the duplicate check
            skipped.append(SkippedRow(row=number, reason="duplicate stored meanwhile"))
    failed_rows = len({e.row for e in errors})
    result = ImportResult(
        created=len(created),
        skipped=len(skipped),
        failed=failed_rows,
        errors=errors,
        skipped_rows=sorted(skipped, key=lambda s: s.row),
        prospect_ids=created,
    )
    await events.record(
        tx,
        Action.PROSPECTS_IMPORTED,
        {
            "rows": len(records),
            "created": result.created,
            "skipped": result.skipped,
            "failed": failed_rows,
        },
    )
    return result
