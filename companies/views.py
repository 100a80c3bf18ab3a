from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .models import Company


def company_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(Company.objects.order_by("name"), 30).get_page(request.GET.get("page"))
    return render(request, "companies/list.html", {"page": page})
