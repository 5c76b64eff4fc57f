"""Alembic revision files (reviewed by hand)."""
