from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

from faiross.kernel.api_fields import NUL_MESSAGE


class RejectNulBytesMiddleware:
    """Answer 400 to NUL bytes in query strings or form fields.

    PostgreSQL text cannot hold NUL, so without this any search box or form would turn such
    input into a 500. API calls get DESIGN.md's JSON error naming the field (NUL bytes in
    JSON bodies are the input serializers' to refuse, by field).
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
                    if request.path.startswith("/api/"):
                        field = key.replace("\x00", "") or "non_field_errors"
                        return JsonResponse({field: [NUL_MESSAGE]}, status=400)
                    return HttpResponseBadRequest("NUL bytes are not allowed in any field.")
        return self.get_response(request)
