"""The one call site that starts a re-run of a repair (the ``repair-asset`` flow)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from detectors.types import Box
from posterqa.settings import Settings

log = logging.getLogger(__name__)


def start_rerun(settings: Settings, *, asset_key: str, boxes: Sequence[Box],
                prompt: str) -> str | None:
    """Ask the flows to repair ``asset_key`` again; returns the flow run id.

    Returns None when this installation has no flow trigger (``flows.trigger`` missing):
    the request is then only recorded (review row + audit event) for a later sweep.
    """
    try:
        from flows.trigger import request_rerun
    except ImportError:
        log.warning("flows.trigger is not available: re-run of %s recorded only", asset_key)
        return None
    return request_rerun(settings, asset_key=asset_key, boxes=list(boxes), prompt=prompt)
