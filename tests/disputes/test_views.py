import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from disputes import services
from disputes.models import Dispute
from tests.factories import DisputeFactory, UserFactory

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def _file(w, **kw):
    args = dict(
        filer=w.carol,
        target=f"table_entry:{w.entry.pk}",
        kind="missing_credit",
        title="Secret title",
        description="Private details",
    )
    args.update(kw)
    return DisputeFactory(**args)


def test_filing_page_needs_sign_in(client, world):
    r = client.get(reverse("disputes:new") + f"?about=table_entry:{world.entry.pk}")
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]


def test_file_a_dispute_with_evidence(client, world, media):
    client.force_login(world.carol)
    url = reverse("disputes:new") + f"?about=table_entry:{world.entry.pk}"
    r = client.get(url)
    assert r.status_code == 200
    page = r.content.decode()
    assert "bob" in page and "alice" in page  # target and parties shown
    r = client.post(
        url,
        {
            "target": f"table_entry:{world.entry.pk}",
            "kind": "missing_credit",
            "title": "Credit me",
            "description": "I wrote it",
            "links": "https://example.org/pr/1\n",
            "files": [SimpleUploadedFile("shot.png", PNG, content_type="image/png")],
        },
    )
    d = Dispute.objects.get()
    assert r.status_code == 302 and r["Location"] == d.get_absolute_url()
    assert d.evidence.count() == 2
    r = client.get(d.get_absolute_url())
    assert "Credit me" in r.content.decode() and "shot.png" in r.content.decode()


def test_bad_filing_shows_errors_not_500(client, world, media):
    client.force_login(world.carol)
    url = reverse("disputes:new") + f"?about=table_entry:{world.entry.pk}"
    r = client.post(
        url,
        {
            "target": f"table_entry:{world.entry.pk}",
            "kind": "missing_credit",
            "title": "x",
            "description": "y",
            "links": "ftp://nope",
            "files": [SimpleUploadedFile("fake.png", b"GIF89a....", content_type="image/png")],
        },
    )
    assert r.status_code == 200
    page = r.content.decode()
    assert "not a valid http(s) URL" in page and "not a PNG file" in page
    assert Dispute.objects.count() == 0


@pytest.mark.parametrize("about", ["nonsense", "table_entry:999", "project:"])
def test_unknown_target_page(client, world, about):
    client.force_login(world.carol)
    r = client.get(reverse("disputes:new") + f"?about={about}")
    assert r.status_code == 400
    assert "File a dispute" in r.content.decode()


def test_version_target_can_narrow_to_an_entry(client, world):
    client.force_login(world.carol)
    r = client.get(
        reverse("disputes:new") + f"?about=table_version:{world.version.pk}&entry={world.entry.pk}"
    )
    assert r.status_code == 302 and f"table_entry:{world.entry.pk}" in r["Location"]


def test_detail_is_private(client, world):
    d = _file(world)
    for user in (world.carol, world.bob, world.alice, world.dana):
        client.force_login(user)
        r = client.get(d.get_absolute_url())
        assert r.status_code == 200 and "Private details" in r.content.decode()
    client.force_login(UserFactory(username="mallory"))
    assert client.get(d.get_absolute_url()).status_code == 404
    client.logout()
    assert client.get(d.get_absolute_url()).status_code == 302


def test_internal_notes_are_not_shown_to_parties(client, world):
    d = _file(world)
    services.dispute_note_add(dispute=d, actor=world.dana, body="bob is lying")
    client.force_login(world.bob)
    page = client.get(d.get_absolute_url()).content.decode()
    assert "note.add" not in page and "bob is lying" not in page
    client.force_login(world.dana)
    page = client.get(d.get_absolute_url()).content.decode()
    assert "note.add" in page


def test_respond_and_bad_respond(client, world, media):
    d = _file(world)
    client.force_login(world.bob)
    r = client.post(reverse("disputes:respond", args=[d.pk]), {"body": "It was me."})
    assert r.status_code == 302
    r = client.post(reverse("disputes:respond", args=[d.pk]), {"body": ""})
    assert r.status_code == 400
    client.force_login(UserFactory(username="mallory"))
    r = client.post(reverse("disputes:respond", args=[d.pk]), {"body": "hi"})
    assert r.status_code == 404
    assert d.messages.count() == 1


def test_appeal_from_the_page(client, world):
    d = _file(world)
    services.dispute_resolve(dispute=d, actor=world.dana, outcome="rejected", resolution="No.")
    client.force_login(world.carol)
    page = client.get(d.get_absolute_url()).content.decode()
    assert "Appeal the resolution" in page and "No." in page
    r = client.post(reverse("disputes:appeal", args=[d.pk]), {"reason": "Look at PR 12"})
    assert r.status_code == 302
    r = client.post(reverse("disputes:appeal", args=[d.pk]), {"reason": "again"})
    assert r.status_code == 400 and "already appealed" in r.content.decode()


def test_evidence_download_is_checked(client, world, media):
    d = _file(world, files=[SimpleUploadedFile("proof.pdf", b"%PDF-1.4 hello")])
    ev = d.evidence.get()
    client.force_login(world.bob)
    r = client.get(reverse("disputes:evidence", args=[ev.pk]))
    assert r.status_code == 200 and b"".join(r.streaming_content) == b"%PDF-1.4 hello"
    assert r["Content-Type"] == "application/pdf" and "attachment" in r["Content-Disposition"]
    client.force_login(UserFactory(username="mallory"))
    assert client.get(reverse("disputes:evidence", args=[ev.pk])).status_code == 404


def test_project_page_shows_open_dispute_without_content(client, world):
    page = client.get(world.project.get_absolute_url()).content.decode()
    assert "No open disputes" in page and "Dispute ownership or governance" in page
    _file(world)
    page = client.get(world.project.get_absolute_url()).content.decode()
    assert "A dispute is open on this table" in page
    assert "Secret title" not in page and "Private details" not in page


def test_table_version_page_offers_entries_and_marks_corrections(client, world):
    url = reverse("projects:table_version", args=["numpy", 1])
    page = client.get(url).content.decode()
    assert f'value="table_entry:{world.entry.pk}"' in page
    d = _file(world)
    from projects.services.tables import EntryInput

    services.table_correct(
        dispute=d, actor=world.dana, entries=[EntryInput("user:carol", 1_000_000)], reason="r"
    )
    page = client.get(reverse("projects:table_version", args=["numpy", 2])).content.decode()
    assert f"for dispute #{d.pk}" in page


def test_my_disputes_list(client, world):
    d = _file(world)
    client.force_login(world.bob)
    assert d.title in client.get(reverse("disputes:list")).content.decode()
    client.force_login(UserFactory(username="mallory"))
    assert d.title not in client.get(reverse("disputes:list")).content.decode()


@pytest.mark.parametrize("entry", ["abc", "1%0D%0ALocation:x", "99999999999999999999999"])
def test_entry_picker_ignores_junk(client, world, entry):
    client.force_login(world.carol)
    r = client.get(
        reverse("disputes:new") + f"?about=table_version:{world.version.pk}&entry={entry}"
    )
    assert r.status_code == 200
