"""The endpoint form (the rules are in :func:`.services.webhook_endpoint_create`)."""

from __future__ import annotations

from typing import Any

from django import forms

from .events import event_choices


class WebhookEndpointForm(forms.Form):
    url = forms.CharField(
        label="Endpoint URL",
        max_length=500,
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/faiross/webhook"}),
        help_text="FairOSS POSTs signed JSON here. Use https in production.",
    )
    description = forms.CharField(max_length=200, required=False)
    events = forms.MultipleChoiceField(
        choices=(), widget=forms.CheckboxSelectMultiple, label="Events to send"
    )

    def __init__(self, *args: Any, owner_kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = event_choices(owner_kind=owner_kind)
        events = self.fields["events"]
        assert isinstance(events, forms.MultipleChoiceField)
        events.choices = choices
        if not self.is_bound:
            self.initial.setdefault("events", [name for name, _ in choices])
