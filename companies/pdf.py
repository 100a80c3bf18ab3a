"""A minimal PDF writer for plain-text documents (the agreement PDF download).

Letter-sized pages of Helvetica text, wrapped, paginated; headings in Helvetica-Bold. The
output is PDF 1.4 with a correct cross-reference table. Text is encoded as Latin-1
(WinAnsi); characters outside it are replaced by '?'. No dependency.
"""

from __future__ import annotations

import textwrap

PAGE_WIDTH, PAGE_HEIGHT = 612, 792  # US Letter, points
MARGIN = 64
FONT_SIZE = 10.5
LEADING = 14
WRAP = 92  # characters per line at this size (Helvetica averages ~0.5 em)


def _escape(text: str) -> str:
    data = text.encode("latin-1", "replace").decode("latin-1")
    return data.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _lines(blocks: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Blocks of (style, text) → wrapped lines of (font, text); '' is a blank line."""
    out: list[tuple[str, str]] = []
    for style, text in blocks:
        font = "F2" if style in ("h1", "h2") else "F1"
        if style in ("h1", "h2") and out:
            out.append(("F1", ""))
        for paragraph in text.split("\n"):
            wrapped = textwrap.wrap(paragraph, WRAP if font == "F1" else WRAP - 10) or [""]
            out.extend((font, line) for line in wrapped)
        if style == "p":
            out.append(("F1", ""))
    return out


def pdf_document(*, title: str, blocks: list[tuple[str, str]]) -> bytes:
    """A PDF of ``blocks``: ``("h1"|"h2"|"p"|"line", text)``. Returns the file's bytes."""
    per_page = int((PAGE_HEIGHT - 2 * MARGIN) // LEADING)
    lines = _lines(blocks)
    pages = [lines[i : i + per_page] for i in range(0, len(lines), per_page)] or [[]]
    objects: list[bytes] = []  # object n is objects[n - 1]

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below
    pages_obj = add(b"")
    font1 = add(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    )
    font2 = add(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>"
    )
    info = add(f"<< /Title ({_escape(title)}) /Producer (FairOSS) >>".encode("latin-1"))
    kids = []
    for number, page in enumerate(pages, start=1):
        ops = ["BT", f"{MARGIN} {PAGE_HEIGHT - MARGIN} Td", f"{LEADING} TL"]
        for font, text in page:
            size = 12.5 if font == "F2" else FONT_SIZE
            ops.append(f"/{font} {size} Tf ({_escape(text)}) Tj T*")
        ops.append("ET")
        footer = f"{title} - page {number} of {len(pages)}"
        ops += ["BT", f"/F1 8 Tf {MARGIN} {MARGIN // 2} Td ({_escape(footer)}) Tj", "ET"]
        stream = "\n".join(ops).encode("latin-1")
        content = add(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        kids.append(
            add(
                (
                    f"<< /Type /Page /Parent {pages_obj} 0 R /MediaBox [0 0 {PAGE_WIDTH} "
                    f"{PAGE_HEIGHT}] /Resources << /Font << /F1 {font1} 0 R /F2 {font2} 0 R >> >> "
                    f"/Contents {content} 0 R >>"
                ).encode("latin-1")
            )
        )
    objects[catalog - 1] = f"<< /Type /Catalog /Pages {pages_obj} 0 R >>".encode("latin-1")
    objects[pages_obj - 1] = (
        f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {len(kids)} >>"
    ).encode("latin-1")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        catalog,
        info,
        xref,
    )
    return bytes(out)
