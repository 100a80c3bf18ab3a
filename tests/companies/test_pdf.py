"""PDFs rendered by WeasyPrint (faiross.kernel.pdf): Unicode text in embedded fonts, pages,
no network; the agreement PDF download with non-Latin names."""

from __future__ import annotations

import datetime as dt
import socket

import pytest

from companies import services
from faiross.kernel.pdf import pdf_render
from tests.factories import CompanyFactory, CompanyMemberFactory, UserFactory
from tests.pdf_helpers import check_pdf, pdf_fonts, pdf_text

NAMES = "Łukasz Müller · Αθηνά · Юлия · 田中 太郎 · ひらがな カタカナ · 北京"
PIXEL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8"
    "z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


def test_unicode_text_prints_in_dejavu_and_the_cjk_font():
    data = pdf_render(html=f"<h1>Names</h1><p>{NAMES}</p>")
    assert check_pdf(data) == 1
    assert NAMES in pdf_text(data)
    fonts = pdf_fonts(data)
    assert "DejaVu-Sans" in fonts and any(f.startswith("WenQuanYi-Micro-Hei") for f in fonts)


def test_long_documents_are_paginated_with_page_numbers():
    data = pdf_render(html="<p>" + "word " * 8000 + "</p>")
    pages = check_pdf(data)
    assert pages > 3
    text = pdf_text(data)
    assert f"page 1 of {pages}" in text and f"page {pages} of {pages}" in text


def test_rendering_never_opens_a_network_connection(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access during PDF rendering: {args!r}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    html = (
        '<link rel="stylesheet" href="https://example.com/print.css">'
        "<style>@import url(http://example.com/x.css);"
        " @font-face { font-family: X; src: url(https://example.com/x.woff2); }</style>"
        '<p>Text <img src="http://example.com/tracker.png"> <img src="ftp://example.com/a.png">'
        f' <img src="{PIXEL}"></p>'
    )
    data = pdf_render(html=html, base_url="https://example.com/")
    assert check_pdf(data) == 1 and "Text" in pdf_text(data)
    assert b"/Image" in data  # the data: URL is embedded


@pytest.mark.django_db
def test_agreement_pdf_prints_non_latin_company_and_signer_names(client, staff):
    company = CompanyFactory(slug="lukasz", name="Łukasz Müller Sp. z o.o.", kind="startup")
    signer = UserFactory(username="tanaka", first_name="田中", last_name="太郎")
    CompanyMemberFactory(company=company, user=signer, role="owner")
    agreement = services.agreement_create(
        company=company,
        actor=signer,
        kind="pledge",
        terms_data={
            "currency": "usd",
            "start_date": dt.date(2024, 1, 1),
            "amount": 123_456,
            "developers": 2,
            "period": "yearly",
        },
    )
    client.force_login(signer)
    url = f"/companies/lukasz/agreements/{agreement.pk}/document.pdf"
    draft = client.get(url)
    assert draft.status_code == 200 and "DRAFT - not signed." in pdf_text(draft.content)

    services.agreement_sign(
        agreement=agreement, actor=signer, ip_address="10.0.0.1", user_agent="Firefox/140"
    )
    r = client.get(url)
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    assert r["Content-Disposition"] == f'attachment; filename="faiross-{agreement.reference}.pdf"'
    assert r.content.startswith(b"%PDF-")
    assert check_pdf(r.content) >= 1
    text = pdf_text(r.content)
    assert f"Pledge agreement {agreement.reference}" in text
    assert "Łukasz Müller Sp. z o.o." in text
    assert "Signature records" in text and "田中 太郎 (tanaka)" in text
    assert "$1,234.56 per developer" in text and "$2,469.12 per year" in text
    agreement.refresh_from_db()
    assert agreement.document_sha256 in text.replace("\n", "")
