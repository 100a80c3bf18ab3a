from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest


class RejectNulBytesMiddleware:
    """Answer 400 to NUL bytes in query strings or form fields.

    PostgreSQL text cannot hold NUL, so without this any search box or form would turn such
    input into a 500.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        sources = [request.GET]
        if request.method == "POST":
            sources.append(request.POST)
        for data in sources:
            for key, values in data.lists():
                if "\x00" in key or any("\x00" in v for v in values):
                    return HttpResponseBadRequest("NUL bytes are not allowed in any field.")
        return self.get_response(request)
