"""The ``[facilities]`` section: alert limits, staleness of other rooms, the optional webhook.

The model lives here (not in :mod:`roomctl.config`) so the facilities capability owns it; the config module
only adds the field.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class FacilitiesSettings(BaseModel):
    """Alerts, the site view and where alerts are posted."""

    model_config = ConfigDict(extra="forbid")

    co2_limit_ppm: float = Field(1200.0, gt=0, le=40000, description="alert when a CO2 sensor reads above this")
    temperature_min: float = Field(15.0, ge=-40, le=85, description="alert below this room temperature (°C)")
    temperature_max: float = Field(28.0, ge=-40, le=85, description="alert above this room temperature (°C)")
    disk_min_free_percent: float = Field(10.0, ge=0, le=99, description="alert when data_dir has less free space")
    check_interval_seconds: float = Field(30.0, ge=0.05, le=3600, description="how often conditions are checked")
    heartbeat_seconds: float = Field(60.0, ge=0.05, le=3600, description="republish the room state at least this often")
    stale_after_seconds: float = Field(
        180.0, ge=0.1, le=86400, description="a room whose state is older than this is shown as stale"
    )
    webhook_url: str = Field("", description="POST every raised and cleared alert here as JSON; empty = off")
    webhook_attempts: int = Field(4, ge=1, le=20, description="tries per alert before giving up")
    webhook_timeout_seconds: float = Field(5.0, gt=0, le=120)
    webhook_backoff_seconds: float = Field(2.0, ge=0, le=600, description="first wait between tries (doubles)")

    @model_validator(mode="after")
    def _consistent(self) -> FacilitiesSettings:
        if self.temperature_min >= self.temperature_max:
            raise ValueError("temperature_min must be below temperature_max")
        if self.heartbeat_seconds >= self.stale_after_seconds:
            raise ValueError("heartbeat_seconds must be shorter than stale_after_seconds, or quiet rooms look stale")
        if self.webhook_url and not self.webhook_url.startswith(("http://", "https://")):
            raise ValueError("webhook_url must start with http:// or https://")
        return self
