"""faiross.toml keeps each entry's note on import and export, and the public export masks
email addresses (money rule 9) in a way that can never be read back as a recipient."""

from pathlib import Path

import pytest

from projects.faiross_toml import TableFileError, table_from_toml, table_to_toml
from projects.services.tables import manifest_dependency_rows, table_import_file

pytestmark = pytest.mark.django_db

REAL = Path("/work/shared/fixtures/real-world/pyproject/psf__requests__pyproject.toml")


def _file(client, url: str) -> str:
    r = client.get(url)
    return b"".join(r).decode() if r.streaming else r.content.decode()


def test_a_real_manifest_table_round_trips_with_its_notes(project, user):
    """requests' real pyproject.toml becomes rows with notes ("runtime dependency"...);
    written as faiross.toml, imported back, every note is kept on the saved entries."""
    rows, _ = manifest_dependency_rows(
        owner_key="project:numpy",
        filename="pyproject.toml",
        content=REAL.read_bytes(),
        share_millibips=5_000_000,
        policy="even",
    )
    assert rows and all(r.note for r in rows)
    text = table_to_toml(
        owner="project:numpy",
        version=None,
        entries=[(r.recipient, r.millibips) for r in rows],
        notes={r.recipient: r.note for r in rows},
    )
    version, _ = table_import_file(
        owner_key="project:numpy", actor=user, filename="faiross.toml", content=text.encode()
    )
    # Packages become placeholder projects on import; each entry keeps its row's note.
    saved = [e.note for e in version.entries.order_by("position")]
    assert saved == [r.note for r in rows]


def test_the_export_writes_notes_and_reads_back(client, project, user):
    text = table_to_toml(
        owner="project:numpy",
        version=None,
        entries=[("user:alice", 1_000_000)],
        notes={"user:alice": "maintains the C core"},
    )
    table_import_file(
        owner_key="project:numpy", actor=user, filename="faiross.toml", content=text.encode()
    )
    exported = _file(client, "/projects/numpy/faiross.toml")
    assert 'note = "maintains the C core"' in exported
    assert table_from_toml(text=exported).notes == {"user:alice": "maintains the C core"}
    api = _file(client, "/api/v1/projects/numpy/faiross.toml")
    assert 'note = "maintains the C core"' in api


def test_public_export_masks_addresses_and_the_mask_does_not_import(client, project, user, staff):
    text = table_to_toml(
        owner="project:numpy",
        version=None,
        entries=[("email:zoe@example.org", 1_000_000), ("email:zed@example.org", 1_000_000)],
    )
    table_import_file(
        owner_key="project:numpy", actor=user, filename="faiross.toml", content=text.encode()
    )
    public = _file(client, "/projects/numpy/faiross.toml")
    assert "zoe@" not in public and public.count('"email:z***@example.org"') == 2
    with pytest.raises(TableFileError) as exc:
        table_from_toml(text=public)
    assert "hidden address" in str(exc.value)
    client.force_login(staff)
    assert "email:zoe@example.org" in _file(client, "/api/v1/projects/numpy/faiross.toml")
