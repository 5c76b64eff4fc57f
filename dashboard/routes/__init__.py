"""Route modules of the dashboard, one per page family."""
