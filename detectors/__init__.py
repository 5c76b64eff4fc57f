"""Defect detection: OCR engines, the text and logo detectors, and the defect types.

A plain library: imports neither Prefect nor FastAPI.
"""

from detectors.types import Box, Defect, Quad

__all__ = ["Box", "Defect", "Quad"]
