import factory
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model

from projects.models import Membership, Project


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests-1")

    @factory.post_generation
    def verified(self, create, extracted, **kwargs):
        if create:
            self.save()
            EmailAddress.objects.get_or_create(
                user=self, email=self.email, defaults={"verified": True, "primary": True}
            )


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    slug = factory.Sequence(lambda n: f"project-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    repo_url = factory.LazyAttribute(lambda o: f"https://github.com/example/{o.slug}")
    status = Project.Status.CLAIMED


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = Membership.Role.STEWARD


class OmbudsmanFactory(UserFactory):
    """Staff with the disputes.act_as_ombudsman permission."""

    is_staff = True

    @factory.post_generation
    def ombudsman_permission(self, create, extracted, **kwargs):
        if create:
            from django.contrib.auth.models import Permission

            self.user_permissions.add(
                Permission.objects.get(
                    codename="act_as_ombudsman", content_type__app_label="disputes"
                )
            )


# --- companies ---------------------------------------------------------------------------

from companies.models import Company, CompanyMember  # noqa: E402


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"company-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title() + " Inc.")
    country = "US"
    kind = Company.Kind.STARTUP


class CompanyMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CompanyMember

    company = factory.SubFactory(CompanyFactory)
    user = factory.SubFactory(UserFactory)
    role = CompanyMember.Role.OWNER


class ConnectedAccountFactory(factory.django.DjangoModelFactory):
    """A connected account row without Stripe (tests that talk to the local server create the
    account there through ``payouts.services.connected_account_get_or_create``)."""

    class Meta:
        model = "payouts.ConnectedAccount"

    user = factory.SubFactory(UserFactory)
    stripe_account_id = factory.Sequence(lambda n: f"acct_test{n:012d}")
    status = "enabled"
    details_submitted = True
    payouts_enabled = True
    transfers_active = True
