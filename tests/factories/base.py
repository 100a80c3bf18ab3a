"""What the factories share."""

from __future__ import annotations

from typing import Any

import factory


class ServiceFactory(factory.django.DjangoModelFactory):
    """A factory whose rows are made by the product's service in ``_create`` (so they are
    valid money-wise and rule-wise); such rows cannot be built without the database."""

    class Meta:
        abstract = True
        skip_postgeneration_save = True

    @classmethod
    def _build(cls, model_class: type, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"{cls.__name__} makes its rows through a service: use create()")
