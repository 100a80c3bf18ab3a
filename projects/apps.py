from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"
    verbose_name = "Projects and share tables"

    def ready(self) -> None:
        from . import notifications, receivers  # noqa: F401
        from .services.tables import project_table_roles
        from .tables_registry import table_owner_policies

        table_owner_policies.register("project", project_table_roles)
        notifications.table_approvers.register("project", notifications.project_table_approvers)
        notifications.approvable_owners.register(
            "project", notifications.project_tables_approved_by
        )
