"""FastAPI review dashboard."""
