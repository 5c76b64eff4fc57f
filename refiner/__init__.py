"""Region repair: Focus-and-Refine crop / paste-back, backends, verification, metrics.

A plain library: imports neither Prefect nor FastAPI; torch/diffusers only inside the
backends that need them.
"""
