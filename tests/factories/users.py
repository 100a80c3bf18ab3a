"""People: plain users (with a verified primary email), staff, ombudsmen."""

from __future__ import annotations

import factory
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from .base import ServiceFactory

PASSWORD = "pw-for-tests-1"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def verified(self, create, extracted, **kwargs):
        if create:
            self.save()
            EmailAddress.objects.get_or_create(
                user=self, email=self.email, defaults={"verified": True, "primary": True}
            )


class StaffFactory(UserFactory):
    """FairOSS staff (countersign agreements, record wires)."""

    username = factory.Sequence(lambda n: f"staff{n}")
    is_staff = True


class OmbudsmanFactory(StaffFactory):
    """Staff with the disputes.act_as_ombudsman permission."""

    username = factory.Sequence(lambda n: f"ombudsman{n}")

    @factory.post_generation
    def ombudsman_permission(self, create, extracted, **kwargs):
        if create:
            self.user_permissions.add(
                Permission.objects.get(
                    codename="act_as_ombudsman", content_type__app_label="disputes"
                )
            )


class SocialAccountFactory(factory.django.DjangoModelFactory):
    """A GitHub account linked through allauth (what a GitHub sign-in leaves)."""

    class Meta:
        model = SocialAccount

    class Params:
        login = factory.Sequence(lambda n: f"octo{n}")

    user = factory.SubFactory(UserFactory)
    provider = "github"
    uid = factory.Sequence(lambda n: str(1000 + n))
    extra_data = factory.LazyAttribute(lambda o: {"login": o.login})


class ApiTokenFactory(ServiceFactory):
    """A personal API token made by the service; the key (shown once) is ``token.key``.
    ``second_factor=True`` for one obtained with MFA."""

    class Meta:
        model = "projects.ApiToken"

    user = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"script {n}")
    second_factor = False

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        from projects.services.tokens import api_token_create

        token, key = api_token_create(**kwargs)
        token.key = key
        return token
