"""``{% load tax_tags %}{% tax_form_box %}``: the earnings page's tax-form box."""

from __future__ import annotations

from typing import Any

from django import template

from payouts import tax_forms
from payouts.models import TaxForm

register = template.Library()


@register.inclusion_tag("payouts/tax_form_notice.html", takes_context=True)
def tax_form_box(context: template.Context) -> dict[str, Any]:
    """What waits for the signed-in person's tax form and the link to upload it; nothing for
    someone who is not signed in."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "tax_form": TaxForm.objects.filter(user=user).first(),
        "waits": tax_forms.tax_form_waits(user=user),
        "on_earnings": True,
    }
