"""Alembic migrations of the posterqa database, shipped inside the package.

Run them with :func:`storage.db.upgrade` (no ``alembic.ini`` needed). To write a new
revision from a checkout: ``python -m storage.db revision -m "what changed"`` and review
the generated file by hand before committing it.
"""
