"""Reading the PDFs the app renders (pypdf): validity, page count, text, fonts."""

from __future__ import annotations

import io

from pypdf import PdfReader
from pypdf.generic import DictionaryObject


def check_pdf(data: bytes) -> int:
    """A PDF that pypdf reads; returns its page count (at least 1)."""
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    pages = len(PdfReader(io.BytesIO(data)).pages)
    assert pages > 0
    return pages


def pdf_text(data: bytes) -> str:
    """The text of every page, as pypdf extracts it."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def pdf_fonts(data: bytes) -> set[str]:
    """The base font names used on the pages, without the subset prefix."""
    names = set()
    for page in PdfReader(io.BytesIO(data)).pages:
        resources = page["/Resources"].get_object()
        assert isinstance(resources, DictionaryObject)
        fonts = resources.get("/Font", DictionaryObject()).get_object()
        assert isinstance(fonts, DictionaryObject)
        for ref in fonts.values():
            font = ref.get_object()
            assert isinstance(font, DictionaryObject)
            names.add(str(font["/BaseFont"]).split("+", 1)[-1])
    return names
