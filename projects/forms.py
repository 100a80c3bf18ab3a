from django import forms

from .models import Membership


class ProjectBasicsForm(forms.Form):
    name = forms.CharField(max_length=120, help_text="The project's name, e.g. NumPy.")
    slug = forms.CharField(
        max_length=50,
        help_text="Lower-case letters, digits and hyphens; used like a ticker in URLs and tables.",
    )


class ProjectLinksForm(forms.Form):
    repo_url = forms.CharField(
        label="Repository URL",
        required=False,
        max_length=300,
        widget=forms.URLInput(attrs={"placeholder": "https://github.com/org/repo"}),
    )
    homepage = forms.CharField(
        required=False, max_length=300, widget=forms.URLInput(attrs={"placeholder": "https://"})
    )
    description = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 4})
    )


class ProjectPackagesForm(forms.Form):
    purls = forms.CharField(
        label="Package URLs",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "pkg:pypi/numpy\npkg:npm/left-pad"}),
        help_text="One package URL (purl) per line: the packages this project publishes.",
    )

    def purl_list(self) -> list[str]:
        return [
            line.strip() for line in self.cleaned_data.get("purls", "").splitlines() if line.strip()
        ]


class ProjectEditForm(ProjectLinksForm, ProjectPackagesForm):
    name = forms.CharField(max_length=120)
    field_order = ["name", "repo_url", "homepage", "description", "purls"]


class InviteForm(forms.Form):
    target = forms.CharField(label="Username or email address", max_length=254)
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.MAINTAINER)


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label="Token name",
        max_length=100,
        help_text="What uses it, e.g. “release script”: shown in the list below.",
    )
