"""Evidence: links and uploaded files, checked (count, size, type by content) before anything
is stored, then attached to a dispute or one of its messages."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import URLValidator

from ..conf import setting
from ..models import Dispute, DisputeMessage, Evidence

FILE_TYPES = {
    "pdf": ("application/pdf", ("pdf",)),
    "png": ("image/png", ("png",)),
    "jpeg": ("image/jpeg", ("jpg", "jpeg")),
    "txt": ("text/plain", ("txt",)),
}


@dataclass(frozen=True)
class CheckedFile:
    upload: UploadedFile
    filename: str
    content_type: str
    size: int


def _sniff(head: bytes, content: bytes | None) -> str | None:
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if content is not None:
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if all(ch in "\t\n\r\f" or unicodedata.category(ch) != "Cc" for ch in text):
            return "txt"
    return None


def _clean_filename(name: str) -> str:
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] not in "CZ" or ch == " ")
    return name.strip()[:150] or "file"


def evidence_check_files(*, files: Sequence[UploadedFile]) -> list[CheckedFile]:
    """Check uploads: how many, the size of each, and the type by content (magic bytes)
    matching the extension. Allowed: PDF, PNG, JPEG and UTF-8 plain text."""
    max_files = setting("FAIROSS_DISPUTE_MAX_FILES")
    max_bytes = setting("FAIROSS_DISPUTE_MAX_FILE_BYTES")
    files = [f for f in files if f]
    if len(files) > max_files:
        raise ValidationError({"files": f"Attach at most {max_files} files."})
    checked: list[CheckedFile] = []
    errors: list[str] = []
    for upload in files:
        name = _clean_filename(upload.name or "")
        size = upload.size or 0
        if size > max_bytes:
            errors.append(f"{name}: the file is larger than {max_bytes // (1024 * 1024)} MiB.")
            continue
        if size == 0:
            errors.append(f"{name}: the file is empty.")
            continue
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        wanted = next((k for k, (_, exts) in FILE_TYPES.items() if ext in exts), None)
        if wanted is None:
            errors.append(f"{name}: only PDF, PNG, JPEG and plain-text (.txt) files are accepted.")
            continue
        upload.seek(0)
        content = upload.read() if wanted == "txt" else None
        upload.seek(0)
        head = upload.read(8)
        upload.seek(0)
        found = _sniff(head, content)
        if found != wanted:
            errors.append(
                f"{name}: the content is not a {wanted.upper()} file (checked by its bytes, "
                "not only its name)."
            )
            continue
        checked.append(CheckedFile(upload, name, FILE_TYPES[wanted][0], size))
    if errors:
        raise ValidationError({"files": errors})
    return checked


def evidence_check_links(*, links: Sequence[str]) -> list[str]:
    max_links = setting("FAIROSS_DISPUTE_MAX_LINKS")
    cleaned = [link.strip() for link in links if link and link.strip()]
    if len(cleaned) > max_links:
        raise ValidationError({"links": f"Give at most {max_links} links."})
    errors = []
    validate = URLValidator(schemes=["http", "https"])
    for link in cleaned:
        try:
            if len(link) > 500:
                raise ValidationError("too long")
            validate(link)
        except ValidationError:
            errors.append(f"'{link[:80]}' is not a valid http(s) URL of at most 500 characters.")
    if errors:
        raise ValidationError({"links": errors})
    return list(dict.fromkeys(cleaned))


def _store_evidence(
    *,
    dispute: Dispute,
    user: User,
    links: Sequence[str],
    files: Sequence[CheckedFile],
    message: DisputeMessage | None = None,
) -> list[Evidence]:
    rows = [
        Evidence.objects.create(dispute=dispute, message=message, url=u, added_by=user)
        for u in links
    ]
    for f in files:
        evidence = Evidence(
            dispute=dispute,
            message=message,
            filename=f.filename,
            content_type=f.content_type,
            size=f.size,
            added_by=user,
        )
        evidence.file.save(f.filename, f.upload, save=False)
        evidence.save()
        rows.append(evidence)
    return rows


@contextmanager
def _files_removed_on_error(rows: Sequence[Evidence]) -> Iterator[None]:
    """Storage is not transactional: when the block fails, the files of ``rows`` (stored
    before it) are removed, and the error goes on."""
    try:
        yield
    except Exception:
        for row in rows:
            if row.file.name:
                default_storage.delete(row.file.name)
        raise
