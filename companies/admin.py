from django.contrib import admin

from .models import Company, CompanyMember


class MemberInline(admin.TabularInline):
    model = CompanyMember
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "kind", "country", "created_at"]
    list_filter = ["kind"]
    search_fields = ["slug", "name"]
    inlines = [MemberInline]
