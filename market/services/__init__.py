"""The market's use cases; one module per family (ARCHITECTURE.md "Inside an app")."""
