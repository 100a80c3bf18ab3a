from django.test import Client

from tests.e2e.test_privacy_crawl import STEWARD_MAY_SEE, _crawl, _start_urls, world  # noqa: F401


def test_tmp(world, monkeypatch):
    import projects.table_views as tv
    import companies.selectors as cs

    monkeypatch.setattr(tv, "recipient_shown", lambda *, key, user: key)
    monkeypatch.setattr(cs, "people_shown_to", lambda *, keys, viewer: set(keys))
    for who in ("steward", "company member"):
        client = Client()
        client.force_login(world[who])
        markers = [m for m in world["markers"] if m not in STEWARD_MAY_SEE]
        leaks, _ = _crawl(client, _start_urls(world, client), markers)
        print(who, leaks)
        assert leaks
