"""CLI sub-commands; each module here defines ``register(app)`` and is picked up by
``flows.cli`` automatically."""
