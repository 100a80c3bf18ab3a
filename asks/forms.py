"""Page forms of company asks. They only read what a person typed; the rules are the
services' (their errors come back onto these forms)."""

from __future__ import annotations

from django import forms

from projects.models import Project


def lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class RequestForm(forms.Form):
    projects = forms.ModelMultipleChoiceField(
        queryset=Project.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="The projects your company's share table funds; one request is filed to each.",
    )
    title = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), max_length=5000)
    links = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Links to the project's issue tracker",
        help_text="One address per line.",
    )
    milestone = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        label="Tied to an equity milestone",
        help_text="When the stewards deliver and you confirm, this milestone is met and its part "
        "of FairOSS's stake vests.",
    )
    bounty = forms.CharField(
        required=False,
        label="Bounty (optional)",
        help_text="Held from your company's reserve until you confirm the delivery; then it "
        "flows by the project's share table in the next distribution run.",
    )
    currency = forms.ChoiceField(required=False)

    def __init__(self, *args, projects, milestones, currencies, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["projects"].queryset = projects  # type: ignore[attr-defined]
        self.fields["milestone"].choices = [("", "No milestone"), *milestones]  # type: ignore[attr-defined]
        self.fields["currency"].choices = [(c, c.upper()) for c in currencies] or [  # type: ignore[attr-defined]
            ("usd", "USD")
        ]


class ReviseForm(forms.Form):
    title = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), max_length=5000)
    links = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class ProfileForm(forms.Form):
    visible = forms.BooleanField(
        required=False,
        label="Open my contributor profile to companies",
        help_text="Companies funding projects can find you by project and ecosystem and ask "
        "to contact you. They see your username, headline, links and the project tables that "
        "name you; never what you received, never your address.",
    )
    headline = forms.CharField(max_length=200, required=False)
    links = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Links you choose",
        help_text="One address per line (a portfolio, a blog, a code host profile).",
    )


class ContactForm(forms.Form):
    company = forms.ChoiceField()
    contributor = forms.CharField(widget=forms.HiddenInput)
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)

    def __init__(self, *args, companies, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["company"].choices = [(c.slug, c.name) for c in companies]  # type: ignore[attr-defined]
