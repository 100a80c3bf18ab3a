"""People's notification choices and the messages told to them."""

from __future__ import annotations

import factory

from projects.notifications import RUN_CREDITED, notification_send

from .base import ServiceFactory
from .users import UserFactory


class NotificationPreferenceFactory(factory.django.DjangoModelFactory):
    """A person's choice for one kind on email: off unless ``enabled=True``."""

    class Meta:
        model = "projects.NotificationPreference"
        django_get_or_create = ("user", "kind", "channel")

    user = factory.SubFactory(UserFactory)
    kind = RUN_CREDITED
    channel = "email"
    enabled = False


class UserNotificationFactory(ServiceFactory):
    """A message recorded by ``notification_send`` (sent after commit, like in production)."""

    class Meta:
        model = "projects.UserNotification"

    user = factory.SubFactory(UserFactory)
    kind = RUN_CREDITED
    subject = "Distribution run 1 credited you"
    body = "Distribution run 1 finished and credited you."
    url = "/payouts/earnings/"
    key = factory.Sequence(lambda n: f"test-notification:{n}")

    @classmethod
    def _create(cls, model_class, *, user, kind, subject, body, url, key):
        notification = notification_send(
            user=user, kind=kind, subject=subject, body=body, url=url, key=key
        )
        assert notification is not None, "the person turned this kind off"
        return notification
