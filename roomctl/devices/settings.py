"""The configuration of room devices and scenes: ``[[devices]]`` and ``[scenes]`` in the TOML file.

A device names the driver that speaks its firmware's MQTT convention and the addressing that driver needs
(a Zigbee2MQTT friendly name, a Tasmota topic, an ESPHome node and entity, a Shelly topic prefix). A scene
says what each device should be: by device id, or for every device of a kind (``kind:dimmer``); an entry by
id wins over one by kind.

These models live here (not in :mod:`roomctl.config`) so the devices capability owns them; the config module
only adds the two fields.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DeviceKind = Literal[
    "light", "dimmer", "plug", "projector", "blinds", "fan", "co2", "temperature", "humidity", "presence"
]
DriverName = Literal["zigbee2mqtt", "tasmota", "esphome", "shelly_gen2", "generic_json"]

SWITCHED_KINDS = frozenset({"light", "dimmer", "plug", "projector", "fan"})
"""Kinds that are switched on and off."""
SENSOR_KINDS = frozenset({"co2", "temperature", "humidity", "presence"})
"""Kinds that only report."""
KIND_TARGET_KEYS: dict[str, frozenset[str]] = {
    "light": frozenset({"on"}),
    "dimmer": frozenset({"on", "brightness"}),
    "plug": frozenset({"on"}),
    "projector": frozenset({"on"}),
    "fan": frozenset({"on"}),
    "blinds": frozenset({"position"}),
}
"""Which target keys each controllable kind accepts."""

PHASES = ("arrival", "clip", "brainstorm", "break", "leave")
"""The session phases that have a scene."""

STEP_SCENES = ("focus", "presentation", "movement", "meditation")
"""Scenes the shipped videoframe's steps ask for besides the phase scenes (``focus``: analysing and stating the
problem in full light; ``presentation``: the proposal on the projector, lights low; ``movement``: a movement
break, lights up and air moving; ``meditation``: business meditation, lights dimmed and blinds down)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Target(_Model):
    """What a device should be: on/off, brightness in percent (dimmers), position in percent (blinds, 100 = up)."""

    on: bool | None = None
    brightness: int | None = Field(default=None, ge=0, le=100)
    position: int | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _not_empty(self) -> Target:
        if self.on is None and self.brightness is None and self.position is None:
            raise ValueError("a scene target needs at least one of on, brightness, position")
        return self

    def keys(self) -> frozenset[str]:
        """The keys this target sets."""
        return frozenset(k for k, v in self.as_dict().items() if v is not None)

    def as_dict(self) -> dict[str, bool | int]:
        """Only the keys that are set."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class DeviceSettings(_Model):
    """One device of the room."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_]{0,31}$", description="stable id used in scenes and the API")
    kind: DeviceKind
    driver: DriverName
    name: str = Field(min_length=1, description="what people see (Dutch)")
    topic: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9_./-]*$",
        description="tasmota: Topic; esphome: node name; shelly_gen2: topic prefix; generic_json: base topic; "
        "zigbee2mqtt: base topic (default zigbee2mqtt)",
    )
    friendly_name: str = Field(default="", pattern=r"^[A-Za-z0-9_ ./-]*$", description="zigbee2mqtt friendly_name")
    entity: str = Field(default="", pattern=r"^[a-z0-9_]*$", description="esphome object id (e.g. relay, co2)")
    channel: int = Field(default=0, ge=0, le=8, description="relay/switch index (tasmota POWER<n>, shelly switch:<n>)")
    feedback: bool = Field(default=True, description="False when the device never reports its state (shown as assumed)")

    @model_validator(mode="after")
    def _addressing(self) -> DeviceSettings:
        needs = {
            "zigbee2mqtt": ("friendly_name",),
            "tasmota": ("topic",),
            "esphome": ("topic", "entity"),
            "shelly_gen2": ("topic",),
            "generic_json": ("topic",),
        }[self.driver]
        missing = [field for field in needs if not getattr(self, field)]
        if missing:
            raise ValueError(f"device {self.id}: the {self.driver} driver needs {', '.join(missing)}")
        if self.kind in SENSOR_KINDS and not self.feedback:
            raise ValueError(f"device {self.id}: a sensor without feedback reports nothing")
        return self


def _default_phase_scenes() -> dict[str, dict[str, Target]]:
    return {
        "arrival": {
            "kind:light": Target(on=True),
            "kind:dimmer": Target(on=True, brightness=100),
            "kind:projector": Target(on=True),
            "kind:blinds": Target(position=100),
        },
        "clip": {
            "kind:light": Target(on=False),
            "kind:dimmer": Target(on=True, brightness=20),
            "kind:projector": Target(on=True),
            "kind:blinds": Target(position=0),
        },
        "brainstorm": {
            "kind:light": Target(on=True),
            "kind:dimmer": Target(on=True, brightness=100),
            "kind:blinds": Target(position=100),
        },
        "break": {
            "kind:light": Target(on=True),
            "kind:dimmer": Target(on=True, brightness=60),
            "kind:fan": Target(on=True),
            "kind:blinds": Target(position=100),
        },
        "focus": {
            "kind:light": Target(on=False),
            "kind:dimmer": Target(on=True, brightness=80),
            "kind:projector": Target(on=True),
            "kind:blinds": Target(position=60),
        },
        "presentation": {
            "kind:light": Target(on=False),
            "kind:dimmer": Target(on=True, brightness=30),
            "kind:projector": Target(on=True),
            "kind:blinds": Target(position=0),
        },
        "movement": {
            "kind:light": Target(on=True),
            "kind:dimmer": Target(on=True, brightness=100),
            "kind:fan": Target(on=True),
            "kind:blinds": Target(position=100),
        },
        "meditation": {
            "kind:light": Target(on=False),
            "kind:dimmer": Target(on=True, brightness=15),
            "kind:fan": Target(on=False),
            "kind:blinds": Target(position=0),
        },
        "leave": {f"kind:{kind}": Target(on=False) for kind in sorted(SWITCHED_KINDS)},
    }


class ScenesSettings(_Model):
    """Scenes per session phase, command confirmation, the espresso machine and the empty-room switch-off."""

    scenes: dict[str, dict[str, Target]] = Field(
        default_factory=_default_phase_scenes,
        description="scene name -> {device id or kind:<kind> -> target}; phases use their own name",
    )
    command_timeout_seconds: float = Field(
        default=3.0, gt=0, le=60, description="wait this long for a device to confirm"
    )
    command_retries: int = Field(default=2, ge=0, le=10, description="send again this often before reporting a failure")
    espresso_device: str = Field(default="", description="device id of the espresso plug ('' = none)")
    espresso_lead_minutes: int = Field(
        default=30, ge=0, le=240, description="switch on this long before the first booking"
    )
    espresso_off_after_minutes: int = Field(
        default=10, ge=0, le=240, description="switch off this long after the last one"
    )
    empty_off_minutes: int = Field(
        default=20, ge=1, le=720, description="no booking and no presence this long: all off"
    )
    empty_scene: str = Field(default="leave", description="the scene applied to an empty room")
    check_interval_seconds: float = Field(
        default=30.0, gt=0, le=600, description="how often espresso/empty room is checked"
    )
    home_assistant_discovery: bool = Field(default=True, description="publish Home Assistant MQTT discovery configs")
    discovery_prefix: str = Field(default="homeassistant", pattern=r"^[A-Za-z0-9_-]+$")

    @field_validator("scenes")
    @classmethod
    def _scene_names(cls, value: dict[str, dict[str, Target]]) -> dict[str, dict[str, Target]]:
        for name in value:
            if not name or not name.replace("_", "").isalnum() or name.lower() != name:
                raise ValueError(f"scene name {name!r}: use lower-case letters, digits and _")
        return value
