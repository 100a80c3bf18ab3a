"""Reads about companies and who may act for them."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from .models import CompanyMember

MONEY_ROLES = (CompanyMember.Role.OWNER, CompanyMember.Role.FINANCE)


def company_role(*, slug: str, user: AbstractBaseUser | AnonymousUser) -> str | None:
    if not user.is_authenticated:
        return None
    return (
        CompanyMember.objects.filter(company__slug=slug, user=user)
        .values_list("role", flat=True)
        .first()
    )


def company_table_roles(
    *, slug: str, user: AbstractBaseUser | AnonymousUser
) -> tuple[bool, bool, int]:
    """(can propose, can approve, number of approvers) on the company's share table.

    Owners and finance members act on money and on the table; owners approve.
    """
    approvers = CompanyMember.objects.filter(
        company__slug=slug, role=CompanyMember.Role.OWNER
    ).count()
    role = company_role(slug=slug, user=user)
    return role in MONEY_ROLES, role == CompanyMember.Role.OWNER, approvers
