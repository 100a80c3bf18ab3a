"""The hand-written PDF writer makes well-formed files."""

import re

from companies.pdf import pdf_document


def _found(match: re.Match[bytes] | None) -> re.Match[bytes]:
    assert match is not None
    return match


def check_pdf(data: bytes) -> int:
    """Check the header, every xref offset and the trailer; returns the page count."""
    assert data.startswith(b"%PDF-1.4\n") and data.rstrip().endswith(b"%%EOF")
    startxref = int(_found(re.search(rb"startxref\n(\d+)\n", data)).group(1))
    assert data[startxref : startxref + 4] == b"xref"
    header = _found(re.match(rb"xref\n0 (\d+)\n", data[startxref:]))
    count = int(header.group(1))
    table = data[startxref + header.end() :].split(b"\n")[:count]
    for n, row in enumerate(table[1:], start=1):
        offset = int(row[:10])
        assert data[offset:].startswith(b"%d 0 obj" % n), n
    for stream in re.finditer(rb"<< /Length (\d+) >>\nstream\n", data):
        length = int(stream.group(1))
        assert data[stream.end() + length : stream.end() + length + 10] == b"\nendstream"
    return int(_found(re.search(rb"/Type /Pages /Kids \[[^\]]*\] /Count (\d+)", data)).group(1))


def test_a_short_document_is_one_valid_page():
    data = pdf_document(title="T", blocks=[("h1", "Pledge (test)"), ("p", "Back\\slash é €")])
    assert check_pdf(data) == 1
    assert b"(Pledge \\(test\\)) Tj" in data
    assert b"Back\\\\slash" in data
    assert "é".encode("latin-1") in data  # WinAnsi; € is outside Latin-1 and becomes ?


def test_long_documents_are_wrapped_and_paginated():
    data = pdf_document(title="Long", blocks=[("p", "word " * 4000)])
    pages = check_pdf(data)
    assert pages > 3
    assert b"page 1 of %d" % pages in data
