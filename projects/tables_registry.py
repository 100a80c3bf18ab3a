"""Who may propose and approve on a share table, by the kind of its owner.

A table's owner is ``project:<slug>`` (this app) or ``company:<slug>`` (the companies app,
which sits above projects and registers its policy at start-up). A policy answers
``(can_propose, can_approve, number_of_approvers)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from faiross.kernel.registry import Registry

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


class TableOwnerPolicy(Protocol):
    def __call__(self, *, slug: str, user: User | AnonymousUser) -> tuple[bool, bool, int]: ...


table_owner_policies: Registry[TableOwnerPolicy] = Registry(
    "projects.table_owner_policies",
    required={"project": "projects", "company": "companies"},
)
