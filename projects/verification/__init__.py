"""Proof that a project controls its repository or package (issue 11: ownership is proved
before money moves). Four methods: a token committed to the repository, GitHub admin or
maintain permission, being listed on the package registry (PyPI, npm), and staff by hand.

``checks`` asks the hosts (through :mod:`faiross.kernel.outbound`, via ``hosts``) and writes
nothing; ``services`` records proofs and claims; ``selectors`` reads them for pages and the API.
"""

from .checks import CheckResult, verification_token
from .services import (
    project_claim,
    project_verify,
    project_verify_by_check,
    project_verify_by_staff,
    repository_owner,
    verification_check,
)

__all__ = [
    "CheckResult",
    "project_claim",
    "project_verify",
    "project_verify_by_check",
    "project_verify_by_staff",
    "repository_owner",
    "verification_check",
    "verification_token",
]
