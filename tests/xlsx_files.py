"""Hand-made XLSX files for the reading tests: a minimal valid workbook, and the hostile ones
(zip bombs, DTDs, missing sheets) that no spreadsheet program would write."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator
from xml.sax.saxutils import escape

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    '</Types>')
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>')
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets>{sheets}</sheets></workbook>')
SHEET_ENTRY = '<sheet name="Sheet1" sheetId="1" r:id="rId1"/>'
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'sharedStrings" Target="sharedStrings.xml"/></Relationships>')
SHEET_HEAD = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
              '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
SHEET_TAIL = '</sheetData></worksheet>'
SST_HEAD = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')


def _col(i: int) -> str:
    name = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        name = chr(65 + r) + name
    return name


def sheet_xml(rows: Iterable[Iterable[object]]) -> Iterator[bytes]:
    """The worksheet, numbers as numbers and text as inline strings, in chunks."""
    yield SHEET_HEAD.encode()
    for r, values in enumerate(rows, start=1):
        cells = []
        for c, v in enumerate(values):
            ref = f"{_col(c)}{r}"
            if isinstance(v, int | float) and not isinstance(v, bool):
                cells.append(f'<c r="{ref}"><v>{v}</v></c>')
            elif v not in (None, ""):
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{escape(str(v))}</t></is></c>')
        yield f'<row r="{r}">{"".join(cells)}</row>'.encode()
    yield SHEET_TAIL.encode()


def workbook(rows: Iterable[Iterable[object]] = (), *, shared_strings: Iterable[bytes] | None = None,
             sheets: bool = True, prolog: str = "", extra: dict[str, bytes] | None = None,
             sheet_body: bytes | None = None) -> bytes:
    """A minimal XLSX; ``shared_strings`` streams an sst body (for bombs); ``prolog`` goes after the
    XML declaration of the sheet (a DOCTYPE); ``sheet_body`` replaces the sheet part outright."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", CONTENT_TYPES)
        zf.writestr("_rels/.rels", ROOT_RELS)
        zf.writestr("xl/workbook.xml", WORKBOOK.format(sheets=SHEET_ENTRY if sheets else ""))
        zf.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        if sheet_body is not None:
            zf.writestr("xl/worksheets/sheet1.xml", sheet_body)
        elif sheets:
            with zf.open("xl/worksheets/sheet1.xml", "w") as fh:
                first = True
                for chunk in sheet_xml(rows):
                    if first and prolog:
                        head, _, rest = chunk.partition(b"\n")
                        chunk = head + b"\n" + prolog.encode() + rest
                    first = False
                    fh.write(chunk)
        with zf.open("xl/sharedStrings.xml", "w") as fh:
            fh.write(SST_HEAD.encode())
            for chunk in shared_strings or ():
                fh.write(chunk)
            fh.write(b"</sst>")
        for name, body in (extra or {}).items():
            zf.writestr(name, body)
    return buf.getvalue()


def shared_strings_bomb(n: int) -> Iterator[bytes]:
    """``n`` shared strings, in 100,000-string chunks: a few hundred KB compressed."""
    block = b"<si><t>x</t></si>" * 100_000
    for _ in range(n // 100_000):
        yield block
