"""posterqa shared core: settings, errors and image loading used by every part.

The working parts live in sibling top-level packages (``detectors``, ``refiner``,
``storage``, ``flows``, ``dashboard``, ``catalog``); see ``../shared/DESIGN.md``.
"""

__version__ = "0.1.0"

# Bumped whenever detection or repair logic changes in a way that should make a sweep
# re-process posters it has already seen (the asset table stores it next to the ETag).
PIPELINE_VERSION = "2026.11.1"
