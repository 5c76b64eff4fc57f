"""Object store (S3 via boto3, embedded SeaweedFS), database models, queries, migrations.

A plain library: imports neither Prefect nor FastAPI.
"""
