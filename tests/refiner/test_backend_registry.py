"""refiner.backends registry: names, lazy modules, settings handed to the backend."""

from __future__ import annotations

import pytest

from posterqa.errors import ConfigError
from posterqa.settings import Settings
from refiner.backends import available_backends, get_backend


def test_unknown_backend_names_the_value_and_the_choices():
    with pytest.raises(ConfigError, match=r"'nope'.*compositor.*refineanything"):
        get_backend("nope")


def test_backend_receives_the_callers_settings_and_budget(tmp_path):
    settings = Settings(state_dir=tmp_path, refiner_pixel_budget=512 * 512)
    backend = get_backend("compositor", settings=settings, pixel_budget=512 * 512)
    assert backend.settings is settings
    assert backend.pixel_budget == 512 * 512
    assert {"compositor", "refineanything"} <= set(available_backends())
