"""The one settings object (env prefix ``POSTERQA_``).

Defaults are the embedded single-machine setup: SeaweedFS started by the CLI on
127.0.0.1, SQLite under the state folder, the CPU compositor as refiner.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "posterqa"}


class Settings(BaseSettings):
    """All configuration of posterqa. Read once with :func:`get_settings`."""

    model_config = SettingsConfigDict(env_prefix="POSTERQA_", env_file=None, extra="ignore")

    # --- local state (embedded S3 data, SQLite file, logs) ---
    state_dir: Path = Field(default=Path(".posterqa"), description="local state folder")

    # --- object store ---
    bucket: str = "posterqa"
    posters_prefix: str = "posters/"
    brands_prefix: str = "brands/"
    repaired_prefix: str = "repaired/"
    artifacts_prefix: str = "artifacts/"
    published_prefix: str = "published/"
    s3_endpoint: str | None = Field(
        default=None, description="S3 endpoint URL; None = start the embedded SeaweedFS"
    )
    s3_region: str = "us-east-1"
    s3_access_key: str | None = Field(
        default=None,
        description="unset: the embedded server's local keys, or boto3's own chain "
        "(AWS_ACCESS_KEY_ID / AWS_PROFILE / instance role) for an external endpoint",
    )
    s3_secret_key: str | None = None

    # --- database ---
    db_url: str | None = Field(default=None, description="SQLAlchemy URL; None = SQLite file")

    # --- input limits ---
    max_image_pixels: int = 80_000_000

    # --- OCR ---
    ocr_engine: Literal["rapidocr", "paddleocr"] = "rapidocr"
    ocr_det_limit_side: int = 960
    report_unexpected_text: bool = Field(
        default=False, description="also report readable text that no copy line claims "
        "(category 'unexpected'); off: a poster may carry text its manifest does not list")
    paddle_det_model_dir: Path | None = None
    paddle_rec_model_dir: Path | None = None
    paddle_det_model_name: str = "PP-OCRv5_mobile_det"
    paddle_rec_model_name: str = "PP-OCRv5_mobile_rec"

    # --- refiner ---
    refiner_backend: str = "compositor"
    refiner_pixel_budget: int = 1024 * 1024
    refiner_margin: int = 64
    refiner_best_of: int = 1
    refiner_seed: int = 0
    refineanything_base: str | None = Field(
        default=None, description="local folder of Qwen-Image-Edit-2511 (or a hub id)"
    )
    refineanything_allow_hub: bool = False
    refineanything_lora: Path | None = None
    refineanything_lightning_lora: Path | None = None
    refineanything_fuse_lora: bool = Field(
        default=False, description="fuse the LoRAs into the transformer's weights after "
        "loading (faster calls, more memory while fusing); off = kept unfused, as published")
    refineanything_lightning_steps: Literal[4, 8] = 8
    refineanything_steps: int = 28
    refineanything_true_cfg: float = 4.0
    refineanything_device: str = "cuda"
    refineanything_allow_cpu: bool = False
    refineanything_offload: Literal["none", "model", "sequential"] = "none"

    # --- dashboard ---
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = 8000
    dashboard_secret_key: str = Field(default="", description="session signing key")
    dashboard_cookie_secure: bool = Field(
        default=False,
        description="mark the session cookie Secure (sent over HTTPS only): set it when "
        "the dashboard is served behind HTTPS",
    )
    dashboard_session_hours: float = Field(
        default=12.0, gt=0, description="a sign-in lasts this long, then signs in again"
    )
    dashboard_login_window_s: int = Field(
        default=900, ge=1, description="sliding window in which failed sign-ins are counted"
    )
    dashboard_login_max_user_failures: int = Field(
        default=5, ge=1, description="failed sign-ins per user name in the window before lockout"
    )
    dashboard_login_max_address_failures: int = Field(
        default=20, ge=1,
        description="failed sign-ins per client address in the window before lockout",
    )
    publish_mode: Literal["prefix", "overwrite-versioned"] = "prefix"
    prefect_ui_url: str | None = Field(
        default=None, description="Prefect UI base URL; the runs page links flow runs there"
    )

    @field_validator("posters_prefix", "brands_prefix", "repaired_prefix", "artifacts_prefix",
                     "published_prefix")
    @classmethod
    def _prefix_ends_with_slash(cls, value: str) -> str:
        value = value.lstrip("/")
        return value if value.endswith("/") or value == "" else value + "/"

    @property
    def resolved_db_url(self) -> str:
        """The DB URL, defaulting to ``sqlite:///<state_dir>/posterqa.db``."""
        if self.db_url:
            return self.db_url
        return f"sqlite:///{(self.state_dir / 'posterqa.db').resolve()}"

    @property
    def embedded_s3_keys(self) -> tuple[str, str]:
        """Access and secret key the embedded SeaweedFS enforces (local defaults)."""
        return (self.s3_access_key or "posterqa-local",
                self.s3_secret_key or "posterqa-local-secret")

    @property
    def embedded_s3(self) -> bool:
        """True when posterqa must start its own SeaweedFS server."""
        return self.s3_endpoint is None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests build ``Settings(...)`` directly)."""
    return Settings()
