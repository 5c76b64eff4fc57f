"""Object store (S3 via boto3, embedded SeaweedFS), database models, queries, migrations.

A plain library: imports neither Prefect nor FastAPI.

- :mod:`storage.runtime`: ``open_store(settings)``, the one way to get an
  :class:`~storage.store.AssetStore` (starts the embedded server when no endpoint is set);
- :mod:`storage.store`: ``AssetStore`` (list by prefix with ETag change detection,
  get/put bytes and images, copy, delete), ``ObjectInfo``, ``ObjectExistsError``;
- :mod:`storage.seaweed`: ``EmbeddedS3``, SeaweedFS ``weed mini`` on 127.0.0.1;
- :mod:`storage.db`: ``make_engine``, ``session_scope``, ``upgrade`` (Alembic to head);
- :mod:`storage.models`: the tables; :mod:`storage.queries`: the core queries.
"""
