"""/api/docs/ (Swagger UI) and /api/redoc/ work offline: every request they make goes to
FairOSS itself (drf-spectacular-sidecar's static files), none to a CDN or a font service."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


class Requests:
    """Every request the page starts, and those its own Content-Security-Policy stopped in the
    browser before they were sent (Redoc's footer logo from cdn.redoc.ly, see
    templates/drf_spectacular/redoc.html)."""

    def __init__(self, page) -> None:
        self.urls: list[str] = []
        self.blocked: list[str] = []
        page.on("request", lambda request: self.urls.append(request.url))
        page.on("requestfailed", self._failed)

    def _failed(self, request) -> None:
        if request.failure == "csp":
            self.blocked.append(request.url)

    def assert_all_local(self, live_server) -> None:
        # data: URLs are inline and blob: URLs name objects the page made itself (a worker).
        sent_outside = [
            url
            for url in self.urls
            if not url.startswith(f"{live_server.url}/")
            and not url.startswith("data:")
            and not url.startswith(f"blob:{live_server.url}/")
            and url not in self.blocked
        ]
        assert self.urls and sent_outside == []


def test_swagger_ui_loads_everything_from_the_site(page, live_server):
    requests = Requests(page)
    page.goto("/api/docs/")
    page.locator(".opblock").first.wait_for()
    page.get_by_text("/api/v1/projects/", exact=True).first.wait_for()
    page.wait_for_load_state("networkidle")
    requests.assert_all_local(live_server)
    assert f"{live_server.url}/api/schema/" in requests.urls
    assert any("/static/drf_spectacular_sidecar/swagger-ui-dist/" in url for url in requests.urls)
    assert requests.blocked == []


def test_redoc_loads_everything_from_the_site(page, live_server):
    requests = Requests(page)
    page.goto("/api/redoc/")
    page.locator(".redoc-wrap .api-content").first.wait_for()
    page.get_by_text("/api/v1/projects/").first.wait_for(state="attached")
    page.wait_for_load_state("networkidle")
    requests.assert_all_local(live_server)
    assert f"{live_server.url}/api/schema/" in requests.urls
    assert any("/static/drf_spectacular_sidecar/redoc/" in url for url in requests.urls)
