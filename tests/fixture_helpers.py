"""Fixture makers for the conftest files (importable without Django)."""

from __future__ import annotations

from typing import Any

import pytest


def user_fixture(username: str, factory: str = "UserFactory", doc: str = "") -> Any:
    """A fixture returning the user ``username`` made by ``tests.factories.<factory>``; the
    factories are imported when it runs, so the pure tests still run without Django."""

    def person(db):
        from tests import factories

        return getattr(factories, factory)(username=username)

    person.__doc__ = doc or f"The user {username}."
    return pytest.fixture(person)
