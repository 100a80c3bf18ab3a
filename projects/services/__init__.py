"""Operations that change projects and their share tables (one function per use case)."""

from .projects import (
    invitation_accept,
    invitation_decline,
    invitation_revoke,
    invitations_attach_email,
    membership_remove,
    project_create,
    project_invite,
    project_update,
    project_validate,
    purls_clean,
)
from .tables import (
    TableError,
    entries_from_rows,
    placeholder_project_for_purl,
    table_import_file,
    table_propose,
    table_set_quorum,
    table_version_approve,
    table_version_withdraw,
)

__all__ = [
    "TableError",
    "entries_from_rows",
    "invitation_accept",
    "invitation_decline",
    "invitation_revoke",
    "invitations_attach_email",
    "membership_remove",
    "placeholder_project_for_purl",
    "project_create",
    "project_invite",
    "project_update",
    "project_validate",
    "purls_clean",
    "table_import_file",
    "table_propose",
    "table_set_quorum",
    "table_version_approve",
    "table_version_withdraw",
]
