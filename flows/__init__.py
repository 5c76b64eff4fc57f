"""Prefect flows and tasks, the ``posterqa`` CLI and the demo."""
