"""Reads about a project's verification, for its page, its verification page and the API."""

from __future__ import annotations

from dataclasses import dataclass

from ..models import Project, ProjectPurl, ProjectVerification


@dataclass(frozen=True)
class VerificationSummary:
    """What anyone may see: verified or not, by which method, since when (never who, never
    the evidence: it can hold a person's email address)."""

    verified: bool
    method: str | None
    method_label: str
    at: object | None  # datetime of the proof that currently stands

    def as_api(self) -> dict[str, object] | None:
        if not self.verified or self.method is None:
            return None
        return {"method": self.method, "at": self.at}


def verification_summary(*, project: Project) -> VerificationSummary:
    proof: ProjectVerification | None = project.verification if project.verification_id else None
    if not project.is_verified or proof is None:
        return VerificationSummary(False, None, "", None)
    return VerificationSummary(True, proof.method, proof.get_method_display(), proof.created_at)


def purl_claims(*, project: Project) -> list[dict[str, object]]:
    """Each package the project lists: proved or not, and which other projects claim it too."""
    rows = list(project.purls.order_by("purl"))
    others: dict[str, list[str]] = {}
    for purl, slug in (
        ProjectPurl.objects.filter(purl__in=[r.purl for r in rows])
        .exclude(project=project)
        .values_list("purl", "project__slug")
    ):
        others.setdefault(purl, []).append(slug)
    return [
        {"purl": r.purl, "verified": r.verified, "others": others.get(r.purl, [])} for r in rows
    ]
