"""Shares typed on the project pages (the table editor's rows, an import's dependency share)
are read by the person's language, and an ambiguous one is refused with its likely reading,
as amounts are (faiross.kernel.shares.percent_to_millibips)."""

from __future__ import annotations

import html

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from projects.models import TableVersion

pytestmark = pytest.mark.django_db

EDIT = "/projects/numpy/table/edit/"


def edit(client, percent: str, **headers):
    rows = {"recipient": ["github:octocat"], "percent": [percent], "note": [""]}
    return client.post(EDIT, rows, **headers)


def test_a_comma_in_english_is_refused_with_the_likely_percentage(client, user, project):
    client.force_login(user)
    page = edit(client, "12,5")
    assert page.status_code == 200
    text = html.unescape(page.content.decode())
    assert "row 1 (github:octocat)" in text and "Did you mean 12.5%?" in text
    assert not TableVersion.objects.exists()
    # The suggestion is accepted as written.
    assert edit(client, "12.5%").status_code == 302
    assert TableVersion.objects.get().entries.get().millibips == 1_250_000


def test_german_reads_the_comma_and_refuses_the_point(client, user, project):
    client.force_login(user)
    refused = html.unescape(edit(client, "12.5", HTTP_ACCEPT_LANGUAGE="de").content.decode())
    assert "Did you mean 12,5\xa0%?" in refused
    assert not TableVersion.objects.exists()
    assert edit(client, "12,5 %", HTTP_ACCEPT_LANGUAGE="de").status_code == 302
    assert TableVersion.objects.get().entries.get().millibips == 1_250_000


def test_the_editor_shows_shares_the_persons_way(client, user, project):
    client.force_login(user)
    edit(client, "12.5")
    german = client.get(EDIT, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert '"percent": "12,5"' in german
    english = client.get(EDIT).content.decode()
    assert '"percent": "12.5"' in english


def test_an_imports_dependency_share_is_read_the_same_way(client, user, project):
    client.force_login(user)
    upload = SimpleUploadedFile("requirements.txt", b"cython\n")
    page = client.post("/projects/numpy/table/import/", {"file": upload, "share": "1e1"})
    text = html.unescape(page.content.decode())
    assert "Dependency share:" in text and "Did you mean 10%?" in text
    assert not TableVersion.objects.exists()
