"""The configuration: one TOML file, overridable by ``ROOMCTL_*`` environment variables.

``ROOMCTL_MQTT__PORT=1884`` overrides ``[mqtt] port``. The file is validated at start; an invalid value ends
start-up with a message naming the key, the bad value and what is allowed. Secrets (the Anthropic key, the
MQTT password) never live here: see :mod:`roomctl.secrets`.
"""

from __future__ import annotations

import logging
import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from roomctl.devices.settings import DeviceSettings, ScenesSettings
from roomctl.errors import ConfigError
from roomctl.facilities.settings import FacilitiesSettings

log = logging.getLogger(__name__)

DEFAULT_CONFIG_PATH = Path("/etc/roomctl/roomctl.toml")
ENV_PREFIX = "ROOMCTL_"
OPENING_TIME = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")


class Section(BaseModel):
    """A configuration section: unknown keys are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid")


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class RoomSettings(Section):
    """Which room this is."""

    site: str = Field("hq", pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$", description="site id, used in MQTT topics")
    id: str = Field("room1", pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$", description="room id, unique on the site")
    name: str = Field("Leerruimte", min_length=1, description="the name people see")
    timezone: str = Field("Europe/Amsterdam", description="IANA time zone that governs local times")
    language: Literal["nl", "en"] = Field("nl", description="default language of the screens")
    capacity: int = Field(8, ge=1, le=100, description="people the room holds")
    opening_hours: dict[Weekday, str] = Field(
        default_factory=lambda: dict.fromkeys(WEEKDAYS, "07:00-22:00"),
        description='local hours per weekday, e.g. mon = "08:00-12:00,13:00-18:00"; a day left out or "" is closed',
    )

    @field_validator("opening_hours")
    @classmethod
    def _hours(cls, value: dict[str, str]) -> dict[str, str]:
        for day, hours in value.items():
            for part in filter(None, hours.replace(" ", "").split(",")):
                start, _, end = part.partition("-")
                if not (OPENING_TIME.match(start) and OPENING_TIME.match(end) and start < end):
                    raise ValueError(f"{day} = {hours!r}: write ranges like 08:00-18:00 (24:00 ends the day)")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone such as Europe/Amsterdam") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        """The room's time zone."""
        return ZoneInfo(self.timezone)


class ServerSettings(Section):
    """The HTTP server."""

    host: str = Field("127.0.0.1", description="address to listen on; 0.0.0.0 for the tablet on the LAN")
    port: int = Field(8080, ge=1, le=65535)
    public_url: str = Field("", description="URL people use to reach this room; derived from host/port if empty")
    tls_cert: Path | None = Field(None, description="HTTPS certificate (PEM), e.g. from `roomctl tls init`")
    tls_key: Path | None = Field(None, description="its private key (PEM); both set: the LAN gets HTTPS only")
    loopback_http_port: int = Field(8080, ge=1, le=65535,
                                    description="with TLS on: plain HTTP on 127.0.0.1 only (the kiosk on the Pi)")

    @property
    def tls(self) -> bool:
        """Whether HTTPS is on (certificate and key both set)."""
        return self.tls_cert is not None and self.tls_key is not None


class StorageSettings(Section):
    """Where roomctl keeps its data."""

    data_dir: Path = Field(Path("/var/lib/roomctl"), description="database, spool, videoframes, models")
    database: str = Field("roomctl.db", description="database file name inside data_dir")

    @property
    def database_path(self) -> Path:
        """The database file."""
        return self.data_dir / self.database


class MqttSettings(Section):
    """The MQTT broker roomctl talks to (password: ROOMCTL_MQTT_PASSWORD or credential mqtt_password)."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str = ""
    tls: bool = False
    ca_file: Path | None = None
    client_id: str = Field("", description="defaults to roomctl-<site>-<room>")
    keepalive: int = Field(30, ge=5, le=3600)
    base_topic: str = Field("roomctl", pattern=r"^[A-Za-z0-9_/-]+$")


class GpioSettings(Section):
    """GPIO pins (BCM numbers) and the pin factory."""

    factory: Literal["mock", "lgpio", "auto"] = Field("mock", description="mock simulates every pin")
    door_relay: int = Field(17, ge=0, le=27)
    relay_active_high: bool = Field(True, description="False for relay boards that switch on a low level")
    door_contact: int | None = Field(27, ge=0, le=27, description="reed contact, closed = door shut; omit if none")
    exit_button: int | None = Field(22, ge=0, le=27)
    led_red: int = Field(5, ge=0, le=27)
    led_green: int = Field(6, ge=0, le=27)
    led_blue: int = Field(13, ge=0, le=27)
    buzzer: int | None = Field(19, ge=0, le=27)
    pir: int | None = Field(26, ge=0, le=27)


class DoorSettings(Section):
    """The door strike and its alarms."""

    unlock_seconds: float = Field(5.0, gt=0, le=60, description="how long a granted tap unlocks the door")
    held_open_alarm_seconds: float = Field(30.0, gt=0, le=3600)
    master_badges: list[str] = Field(default_factory=list, description="UIDs that always open (always logged)")
    forced_open_grace_seconds: float = Field(
        2.0, ge=0, le=30, description="an opening this long after the strike relocked still counts as let in"
    )
    audit_retention_days: int = Field(365, ge=1, le=3650, description="audit entries older than this are deleted")
    lockout_denied_taps: int = Field(10, ge=2, le=100_000, description="denied taps on one reader that lock it out")
    lockout_window_seconds: float = Field(60.0, gt=0, le=3600, description="...counted within this window")
    lockout_seconds: float = Field(60.0, gt=0, le=3600, description="how long a reader stays locked out")
    booked_soon_minutes: int = Field(15, ge=0, le=240, description="the LED shows booked-soon this long before")
    require_secure_badges: bool = Field(
        False, description="refuse plain-UID badges (master badges too); only authenticated NTAG 424 DNA badges open"
    )


class ReaderSettings(Section):
    """The NFC reader at the door."""

    kind: Literal["simulated", "pn532_uart", "pn532_i2c", "evdev", "esphome"] = "simulated"
    device: str = Field("/dev/serial0", description="serial port (pn532_uart) or input device (evdev)")
    esphome_topic: str = Field("", description="MQTT topic the ESPHome reader node publishes tags on")
    name: str = Field("door", pattern=r"^[A-Za-z0-9_.-]{1,40}$", description="the reader's name in the audit trail")
    i2c_address: int = Field(0x24, ge=0x03, le=0x77, description="PN532 address on the I2C bus (pn532_i2c)")
    keypad_device: str = Field(
        "", description="a USB numeric keypad at the door for guests' door codes (an input device); empty: none"
    )


class BookingSettings(Section):
    """Check-in and release rules."""

    checkin_before_minutes: int = Field(10, ge=0, le=120)
    checkin_after_minutes: int = Field(15, ge=1, le=120)
    max_booking_minutes: int = Field(240, ge=15, le=24 * 60, description="longest single booking or occurrence")
    no_show_threshold: int = Field(3, ge=1, le=50, description="consecutive no-shows that flag a series")
    no_show_cancels_series: bool = Field(False, description="cancel the rest of a series once it is flagged")
    walk_in: bool = Field(True, description="a member's tap on a free room starts an ad-hoc booking for their group")
    walk_in_lead_minutes: int = Field(30, ge=0, le=240, description="walk-ins need the room free this long ahead")
    walk_in_minutes: int = Field(60, ge=15, le=240, description="how long a walk-in books (shorter if a booking follows)")
    series_max_weeks: int = Field(104, ge=1, le=520, description="longest weekly series")
    enrol_wait_seconds: int = Field(60, ge=5, le=600, description="how long enrol-by-tap waits for the badge")


class SpeechSettings(Section):
    """Recording and transcribing the brainstorm (faster-whisper in a worker process)."""

    model: str = Field(
        "base", min_length=1, description="installed model (base, tiny.en), any faster-whisper name, or a path"
    )
    model_dir: Path | None = Field(None, description="where models are installed; default <data_dir>/models")
    language: str = Field("nl", pattern=r"^[a-z]{2,3}$", description="spoken language passed to Whisper")
    beam_size: int = Field(
        2, ge=1, le=10, description="beam search width for the final transcript (2: as good as 5 here, a third cheaper)"
    )
    threads: int = Field(0, ge=0, le=64, description="CPU threads for the worker; 0 = all cores up to 4")
    source: Literal["simulated", "alsa"] = Field("simulated", description="alsa records from a microphone")
    device: str = Field("", description="sounddevice input device name or index; empty = the default input")
    simulated_files: list[Path] = Field(default_factory=list, description="WAV files the simulated microphone plays")
    chunk_seconds: float = Field(
        28.0, ge=10.0, le=30.0, description="longest chunk of the final transcript (the last one is done after stop)"
    )
    cut_search_seconds: float = Field(5.0, ge=0.5, le=10.0, description="look for the quietest cut in this tail")
    retention_hours: float = Field(0.0, ge=0.0, le=24 * 30, description="keep transcribed audio this long (0 = delete)")
    transcript_retention_days: int = Field(90, ge=0, le=3650, description="delete transcripts after (0 = keep)")
    require_member_consent: bool = Field(False, description="each present member taps to agree, not only the group")
    live_captions: bool | None = Field(
        None, description="captions on the projector while people speak; unset = on when the model keeps up here"
    )
    caption_interval_seconds: float = Field(
        0.0, ge=0.0, le=10.0, description="new speech between caption passes; 0 = chosen from the model and cores"
    )


class ModelPrice(Section):
    """What one model costs, in euro per million tokens."""

    input_eur_per_mtok: float = Field(ge=0)
    output_eur_per_mtok: float = Field(ge=0)


DEFAULT_LLM_PRICES: dict[str, ModelPrice] = {
    "default": ModelPrice(input_eur_per_mtok=2.8, output_eur_per_mtok=14.0),
    "claude-sonnet": ModelPrice(input_eur_per_mtok=2.8, output_eur_per_mtok=14.0),
    "claude-haiku": ModelPrice(input_eur_per_mtok=0.95, output_eur_per_mtok=4.7),
    "claude-opus": ModelPrice(input_eur_per_mtok=4.7, output_eur_per_mtok=23.5),
}
"""Approximate list prices in euro by model name or name prefix (the longest match wins); ``default`` applies
to other models. Override in ``[llm.prices]``."""


class LlmSettings(Section):
    """The AI improvement proposal (key: ROOMCTL_ANTHROPIC_API_KEY or credential anthropic_api_key)."""

    enabled: bool = Field(True, description="false: the room never asks for proposals")
    provider: Literal["anthropic", "openai_compatible", "demo"] = Field(
        "anthropic",
        description="anthropic (Messages API), openai_compatible (a chat-completions server on the LAN), or demo "
        "(builds proposals from the group's own words, without AI)",
    )
    model: str = Field("claude-sonnet-4-6", min_length=1)
    base_url: str = Field("", description="API base URL; empty = the SDK's default (openai_compatible needs one)")
    preview: Literal["required", "optional"] = Field(
        "required", description="required: the group sees and sends every request from the tablet"
    )
    max_tokens: int = Field(4096, ge=256, le=64000)
    daily_budget_eur: float = Field(5.0, ge=0, description="per room and local day; 0 = no proposals")
    redact_words: list[str] = Field(default_factory=list, description="removed before text leaves, besides names")
    connect_timeout_seconds: float = Field(10.0, gt=0, le=120)
    request_timeout_seconds: float = Field(180.0, gt=0, le=1800)
    max_attempts: int = Field(12, ge=1, le=100, description="tries on 429/5xx before a request is reported failed")
    malformed_retries: int = Field(2, ge=0, le=5, description="new tries when the answer does not fit the form")
    max_backoff_seconds: float = Field(300.0, ge=1, le=3600)
    transcript_max_chars: int = Field(60000, ge=2000, le=400000, description="longer transcripts are cut (middle)")
    screen_throttle_seconds: float = Field(
        0.5, ge=0.02, le=5, description="how often the kiosk gets a new draft (each is sent to every screen)"
    )
    prices: dict[str, ModelPrice] = Field(default_factory=lambda: dict(DEFAULT_LLM_PRICES))

    @model_validator(mode="after")
    def _lan_server_named(self) -> LlmSettings:
        if self.provider == "openai_compatible":
            if not self.base_url:
                raise ValueError(
                    'provider "openai_compatible" needs base_url, the server\'s OpenAI-compatible URL '
                    '(e.g. "http://llm.lan:8080/v1" for llama.cpp, "http://llm.lan:11434/v1" for Ollama)'
                )
            if "model" not in self.model_fields_set:
                raise ValueError('provider "openai_compatible" needs model, the name the server serves it under')
        return self


class BackupSettings(Section):
    """Nightly backups (`roomctl backup`, roomctl-backup.timer)."""

    dir: Path | None = Field(None, description="where archives go; default <data_dir>/backups (better: a USB disk)")
    keep: int = Field(14, ge=1, le=1000, description="newest archives kept; older ones are deleted")


class Settings(BaseSettings):
    """Everything roomctl is configured with."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    room: RoomSettings = Field(default_factory=RoomSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    gpio: GpioSettings = Field(default_factory=GpioSettings)
    door: DoorSettings = Field(default_factory=DoorSettings)
    reader: ReaderSettings = Field(default_factory=ReaderSettings)
    booking: BookingSettings = Field(default_factory=BookingSettings)
    speech: SpeechSettings = Field(default_factory=SpeechSettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)
    devices: list[DeviceSettings] = Field(default_factory=list)
    scenes: ScenesSettings = Field(default_factory=ScenesSettings)
    backup: BackupSettings = Field(default_factory=BackupSettings)
    facilities: FacilitiesSettings = Field(default_factory=FacilitiesSettings)


    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment first, then the values passed in (the TOML file's)."""
        return (env_settings, init_settings)

    @property
    def public_url(self) -> str:
        """The URL of this room's web pages."""
        if self.server.public_url:
            return self.server.public_url.rstrip("/")
        host = "127.0.0.1" if self.server.host in ("0.0.0.0", "::") else self.server.host  # noqa: S104
        return f"{'https' if self.server.tls else 'http'}://{host}:{self.server.port}"


SECRET_KEYS = frozenset(
    {"password", "api_key", "anthropic_api_key", "openai_api_key", "token", "secret", "master_key", "badge_master_key"}
)


def _reject_secrets(data: dict[str, Any], source: Path | None, path: str = "") -> None:
    for key, value in data.items():
        dotted = f"{path}.{key}" if path else key
        if key.lower() in SECRET_KEYS:
            raise ConfigError(
                f"{dotted} in {source}: secrets do not belong in the config file; set them in the environment "
                "(ROOMCTL_...) or as a systemd credential"
            )
        if isinstance(value, dict):
            _reject_secrets(value, source, dotted)


def _describe(error: Any) -> str:
    key = ".".join(str(p) for p in error["loc"])
    value = error.get("input")
    shown = "" if isinstance(value, dict) else f" = {value!r}"
    return f"{key}{shown}: {error['msg']}"


def load_settings(path: Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Read and validate the configuration.

    Args:
        path: The TOML file; ``None`` means defaults plus environment.
        overrides: Values that take the place of the file's (used by ``demo`` and tests).

    Raises:
        ConfigError: The file is missing or unreadable, or a value is invalid (named with key and value).
    """
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist; create one with `roomctl init`") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
    _reject_secrets(data, path)
    for section, values in (overrides or {}).items():
        data.setdefault(section, {}).update(values)
    try:
        return Settings(**data)
    except pydantic.ValidationError as exc:
        where = f" in {path}" if path else ""
        problems = "; ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"invalid configuration{where}: {problems}") from None
