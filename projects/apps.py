from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"
    verbose_name = "Projects and share tables"

    def ready(self) -> None:
        from . import receivers  # noqa: F401
        from .services.tables import project_table_roles
        from .tables_registry import table_owner_policies

        table_owner_policies.register("project", project_table_roles)
