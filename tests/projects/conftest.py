"""Fixtures shared by the verification tests (the service's and the pages')."""

import pytest

from tests.fake_hosts import FakeHosts


@pytest.fixture
def hosts(settings):
    """The local stand-in for GitHub, raw files, PyPI and npm, the settings pointed at it."""
    with FakeHosts() as fake:
        for name, value in fake.settings.items():
            setattr(settings, name, value)
        yield fake


@pytest.fixture
def numpy(user):
    """NumPy, unverified, alice its steward, with its GitHub repository and PyPI package."""
    from projects.models import ProjectPurl
    from tests.factories import ProjectFactory

    project = ProjectFactory(
        slug="numpy",
        name="NumPy",
        repo_url="https://github.com/numpy/numpy",
        unverified=True,
        steward=user,
    )
    ProjectPurl.objects.create(project=project, purl="pkg:pypi/numpy")
    return project
