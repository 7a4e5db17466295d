"""Messages of the legflow wire protocol v1, packed with `struct` (docs/protocol.md has the byte
layouts). Host → device types are below 0x80, device → host types from 0x80.

Values travel as integers in fixed units (0.1 mmHg, 0.01 °C, mA, duty in 1/255), so a
microcontroller never needs floats; decoding gives the physical values back, quantised.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, fields
from enum import IntEnum
from typing import ClassVar, Self, TypedDict

import numpy as np

from legflow.device.massager import ROLLER_ZONES
from legflow.device.wire.framing import PROTOCOL_VERSION, Frame, encode_frame

#: A command carries each cell's valves as one bit of a 32-bit mask.
MAX_CELLS = 32
MAX_LEGS = 2
NO_INDEX = 0xFF


class MessageError(ValueError):
    """A frame whose payload is not a valid message of its type."""


class MsgType(IntEnum):
    HELLO = 0x01
    COMMAND = 0x02
    HEARTBEAT = 0x03
    SAFE = 0x04
    RESET = 0x05
    CAPABILITIES = 0x81
    SENSORS = 0x82
    FAULT = 0x83
    ACK = 0x84
    NACK = 0x85


class FaultCode(IntEnum):
    """Why the device entered its safe state by itself (a FAULT message)."""

    HEARTBEAT_LOST = 1
    OVER_PRESSURE = 2
    OVER_TEMPERATURE = 3
    PRESSURE_SWITCH = 4  # the hardware trip below the firmware (the relay opened on its own)
    #: A host's supervisor found a fault (a leak, a stuck valve...) and asked for the safe state
    #: (SAFE with a fault, to a device with `features` bit 3): latched like the device's own.
    HOST_FAULT = 5


class NackReason(IntEnum):
    BAD_VERSION = 1
    UNKNOWN_TYPE = 2
    BAD_PAYLOAD = 3
    WRONG_SHAPE = 4  # a command for another number of legs or cells
    NOT_READY = 5  # a command before any HELLO


def _duty(value: float) -> int:
    return round(min(1.0, max(0.0, float(value))) * 255)


def _i16(value: float, scale: float) -> int:
    return int(min(32767, max(-32768, round(float(value) * scale))))


def _check_size(payload: bytes, size: int, what: str) -> None:
    if len(payload) != size:
        raise MessageError(f"{what}: {len(payload)} bytes, expected {size}")


class _FixedLayout:
    """A message whose payload is its fields, in order, in one fixed `struct` layout ``_S``."""

    TYPE: ClassVar[MsgType]
    _S: ClassVar[struct.Struct] = struct.Struct("<")  # no fields: an empty payload

    def pack(self) -> bytes:
        return self._S.pack(*(getattr(self, f.name) for f in fields(self)))  # type: ignore[arg-type]

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        _check_size(payload, cls._S.size, cls.TYPE.name)
        return cls(*cls._S.unpack(payload))


@dataclass(frozen=True)
class Hello(_FixedLayout):
    """Host → device: the host's protocol version and the sensor rate it asks for (0: the
    device's default). The device answers with `Capabilities` and starts its sensor stream."""

    TYPE: ClassVar[MsgType] = MsgType.HELLO
    _S: ClassVar[struct.Struct] = struct.Struct("<BH")
    version: int = PROTOCOL_VERSION
    sensor_rate_hz: int = 0


@dataclass(frozen=True)
class Command:
    """Host → device: every actuator for the next tick; it also feeds the device's watchdog.
    Duties are quantised to 1/255.

    The roller tail (per leg: the sole zones the rollers work, and deep or gentle) is optional, so
    a device that does not announce `Capabilities.roller_zones` keeps its v1 COMMAND; without it
    the rollers work every zone they reach, gently."""

    TYPE: ClassVar[MsgType] = MsgType.COMMAND
    _HEAD: ClassVar[struct.Struct] = struct.Struct("<IBBII")
    _LEG: ClassVar[struct.Struct] = struct.Struct("<BBBB")
    _ROLLER: ClassVar[struct.Struct] = struct.Struct("<BB")  # the tail, per leg: zone mask, flags
    heartbeat: int
    inlet_open: tuple[bool, ...]
    exhaust_open: tuple[bool, ...]
    pump_duty: tuple[float, ...]
    heater_power: tuple[float, ...]
    roller_speed: tuple[float, ...]
    vibration_level: tuple[int, ...]
    #: Per leg, the sole zones the rollers work (in `ROLLER_ZONES` order); None: no roller tail.
    roller_zones: tuple[tuple[str, ...], ...] | None = None
    #: Per leg, deep (True) or gentle kneading; sent with ``roller_zones``.
    roller_deep: tuple[bool, ...] | None = None

    def pack(self) -> bytes:
        n_legs, n_cells = len(self.pump_duty), len(self.inlet_open)
        inlet = sum(1 << i for i, v in enumerate(self.inlet_open) if v)
        exhaust = sum(1 << i for i, v in enumerate(self.exhaust_open) if v)
        out = self._HEAD.pack(self.heartbeat & 0xFFFFFFFF, n_legs, n_cells, inlet, exhaust)
        for leg in range(n_legs):
            out += self._LEG.pack(
                _duty(self.pump_duty[leg]),
                _duty(self.heater_power[leg]),
                _duty(self.roller_speed[leg]),
                min(255, max(0, int(self.vibration_level[leg]))),
            )
        if self.roller_zones is not None:
            deep = self.roller_deep or (False,) * n_legs
            for leg in range(n_legs):
                mask = sum(1 << ROLLER_ZONES.index(z) for z in set(self.roller_zones[leg]))
                out += self._ROLLER.pack(mask, int(bool(deep[leg])))
        return out

    @classmethod
    def unpack(cls, payload: bytes) -> Command:
        if len(payload) < cls._HEAD.size:
            raise MessageError(f"COMMAND: {len(payload)} bytes, shorter than its header")
        heartbeat, n_legs, n_cells, inlet, exhaust = cls._HEAD.unpack_from(payload)
        if not 1 <= n_legs <= MAX_LEGS or not 1 <= n_cells <= MAX_CELLS:
            raise MessageError(f"COMMAND: {n_legs} legs, {n_cells} cells")
        size = cls._HEAD.size + cls._LEG.size * n_legs
        if len(payload) != size + cls._ROLLER.size * n_legs:
            _check_size(payload, size, "COMMAND")  # no roller tail
        legs = [cls._LEG.unpack_from(payload, cls._HEAD.size + cls._LEG.size * k) for k in range(n_legs)]
        zones: tuple[tuple[str, ...], ...] | None = None
        deep: tuple[bool, ...] | None = None
        if len(payload) > size:
            tail = [cls._ROLLER.unpack_from(payload, size + cls._ROLLER.size * k) for k in range(n_legs)]
            if any(mask >> len(ROLLER_ZONES) or flags & ~1 for mask, flags in tail):
                raise MessageError("COMMAND: unknown roller zone or flag bits")
            zones = tuple(tuple(z for i, z in enumerate(ROLLER_ZONES) if mask >> i & 1) for mask, _ in tail)
            deep = tuple(bool(flags & 1) for _, flags in tail)
        return cls(
            heartbeat,
            tuple(bool(inlet >> i & 1) for i in range(n_cells)),
            tuple(bool(exhaust >> i & 1) for i in range(n_cells)),
            tuple(leg[0] / 255 for leg in legs),
            tuple(leg[1] / 255 for leg in legs),
            tuple(leg[2] / 255 for leg in legs),
            tuple(leg[3] for leg in legs),
            zones,
            deep,
        )

    @classmethod
    def from_arrays(
        cls,
        heartbeat: int,
        inlet: np.ndarray,
        exhaust: np.ndarray,
        pump: np.ndarray,
        heater: np.ndarray,
        roller: np.ndarray,
        vibration: np.ndarray,
        roller_zones: np.ndarray | None = None,
        roller_deep: np.ndarray | None = None,
    ) -> Command:
        """From `Commands` arrays; ``roller_zones`` (bool per leg and zone) and ``roller_deep``
        (bool per leg) add the roller tail (gentle without ``roller_deep``)."""
        zones = (
            None
            if roller_zones is None
            else tuple(
                tuple(z for z, on in zip(ROLLER_ZONES, leg, strict=True) if on) for leg in roller_zones
            )
        )
        deep = None if zones is None or roller_deep is None else tuple(bool(v) for v in roller_deep)
        return cls(
            int(heartbeat),
            tuple(bool(v) for v in inlet),
            tuple(bool(v) for v in exhaust),
            tuple(float(v) for v in pump),
            tuple(float(v) for v in heater),
            tuple(float(v) for v in roller),
            tuple(int(v) for v in vibration),
            zones,
            deep,
        )

    def roller_arrays(self, n_legs: int) -> tuple[np.ndarray, np.ndarray]:
        """(bool per leg and zone, bool per leg) for `Commands`; none named without the tail."""
        zones = np.zeros((n_legs, len(ROLLER_ZONES)), bool)
        deep = np.zeros(n_legs, bool)
        if self.roller_zones is not None:
            zones[:] = [[z in leg for z in ROLLER_ZONES] for leg in self.roller_zones]
            deep[:] = self.roller_deep or False
        return zones, deep


@dataclass(frozen=True)
class Heartbeat(_FixedLayout):
    """Host → device: feeds the watchdog and leaves the actuators as they are."""

    TYPE: ClassVar[MsgType] = MsgType.HEARTBEAT
    _S: ClassVar[struct.Struct] = struct.Struct("<I")
    heartbeat: int

    def pack(self) -> bytes:
        return self._S.pack(self.heartbeat & 0xFFFFFFFF)


@dataclass(frozen=True)
class Safe:
    """Host → device: open the master relay now (acknowledged).

    Empty: the end of a session, or a user's stop; the device rests (SENSORS flags bit 2). With the
    optional tail (`fault` 1, and the cell where the host found it, or `NO_INDEX`): the host's
    supervisor found a fault, and a device with `Capabilities.host_faults_latch` latches as on its
    own fault (FAULT `HOST_FAULT`), so the next session starts only after a user's reset. The tail
    goes only to such a device; older ones take SAFE as it always was."""

    TYPE: ClassVar[MsgType] = MsgType.SAFE
    _TAIL: ClassVar[struct.Struct] = struct.Struct("<BB")
    fault: bool = False
    where: int = NO_INDEX

    def pack(self) -> bytes:
        return self._TAIL.pack(1, self.where) if self.fault else b""

    @classmethod
    def unpack(cls, payload: bytes) -> Safe:
        if not payload:
            return cls()
        _check_size(payload, cls._TAIL.size, "SAFE")
        fault, where = cls._TAIL.unpack(payload)
        if fault not in (0, 1):
            raise MessageError(f"SAFE: fault flag {fault}, expected 0 or 1")
        return cls(bool(fault), where)


@dataclass(frozen=True)
class Reset(_FixedLayout):
    """Host → device: a user's reset closes the relay again (acknowledged); the watchdog re-arms
    with the next command."""

    TYPE: ClassVar[MsgType] = MsgType.RESET


@dataclass(frozen=True)
class Capabilities:
    """Device → host, the answer to HELLO: the device's protocol version, its profile (by name,
    with the shape the host checks it against), and the limits its firmware enforces by itself."""

    TYPE: ClassVar[MsgType] = MsgType.CAPABILITIES
    _HEAD: ClassVar[struct.Struct] = struct.Struct("<BBBBBHHH")
    version: int
    profile: str
    n_legs: int
    cells_per_leg: int
    has_rollers: bool
    has_heater: bool
    vibration_max_level: int
    heartbeat_timeout_ms: int
    sensor_rate_hz: int
    #: The skin temperature at which the firmware opens the relay (0.1 °C steps); None: no heater.
    heater_trip_C: float | None
    #: Per cell of one leg: the pressure at which the firmware opens the relay (0.1 mmHg steps).
    trip_mmHg: tuple[float, ...]
    firmware: str = ""
    #: The device reads COMMAND's roller tail: its rollers work only the zones named, at the depth
    #: named (`features` bit 2). Without it the host sends no tail.
    roller_zones: bool = False
    #: A SAFE that carries a host's fault latches the device like its own fault (`features` bit 3).
    host_faults_latch: bool = False

    def pack(self) -> bytes:
        name, firmware = self.profile.encode("ascii"), self.firmware.encode("ascii")
        if len(name) > 32 or len(firmware) > 32:
            raise ValueError("profile and firmware names are at most 32 ASCII bytes")
        if len(self.trip_mmHg) != self.cells_per_leg:
            raise ValueError("one trip pressure per cell of a leg")
        features = int(self.has_rollers) | int(self.has_heater) << 1 | int(self.roller_zones) << 2
        features |= int(self.host_faults_latch) << 3
        heater = 0 if self.heater_trip_C is None else round(self.heater_trip_C * 10)
        out = self._HEAD.pack(
            self.version,
            self.n_legs,
            self.cells_per_leg,
            features,
            self.vibration_max_level,
            self.heartbeat_timeout_ms,
            self.sensor_rate_hz,
            heater,
        )
        out += bytes([len(name)]) + name + bytes([len(firmware)]) + firmware
        return out + struct.pack(f"<{self.cells_per_leg}H", *(round(p * 10) for p in self.trip_mmHg))

    @classmethod
    def unpack(cls, payload: bytes) -> Capabilities:
        try:
            version, n_legs, cells, features, vib, hb_ms, rate, heater = cls._HEAD.unpack_from(payload)
            at = cls._HEAD.size
            name = payload[at + 1 : at + 1 + payload[at]]
            at += 1 + payload[at]
            firmware = payload[at + 1 : at + 1 + payload[at]]
            at += 1 + payload[at]
            trips = struct.unpack_from(f"<{cells}H", payload, at)
            at += 2 * cells
        except (struct.error, IndexError) as exc:
            raise MessageError(f"CAPABILITIES: truncated ({exc})") from None
        if at != len(payload):
            raise MessageError(f"CAPABILITIES: {len(payload) - at} bytes too many")
        try:
            text, fw = name.decode("ascii"), firmware.decode("ascii")
        except UnicodeDecodeError:
            raise MessageError("CAPABILITIES: names must be ASCII") from None
        return cls(
            version,
            text,
            n_legs,
            cells,
            bool(features & 1),
            bool(features & 2),
            vib,
            hb_ms,
            rate,
            heater / 10 if heater else None,
            tuple(t / 10 for t in trips),
            fw,
            bool(features & 4),
            bool(features & 8),
        )


@dataclass(frozen=True)
class SensorSample:
    """Device → host, at the stream rate: one sample of every sensor, the last heartbeat the
    device heard and the state of its relay: open, and whether only because a host asked (SAFE),
    so a host can tell a device resting after a session from one latched by its own fault."""

    TYPE: ClassVar[MsgType] = MsgType.SENSORS
    _HEAD: ClassVar[struct.Struct] = struct.Struct("<IIIBBB")
    t_ms: int
    sample: int
    heartbeat_heard: int
    relay_open: bool
    armed: bool
    pressure_mmHg: tuple[float, ...]  # per cell, 0.1 mmHg steps
    manifold_mmHg: tuple[float, ...]  # per leg, 0.1 mmHg steps
    skin_temp_C: tuple[float, ...]  # per leg, 0.01 °C steps
    pump_current_A: tuple[float, ...]  # per leg, mA steps
    roller_current_A: tuple[float, ...]
    vibration_current_A: tuple[float, ...]
    #: The relay is open because a host sent SAFE, not by a fault of the device's own (flags bit 2;
    #: a device that never sets it has every open relay taken as latched by a fault).
    safe_requested: bool = False
    #: Per leg, the heater's current (mA steps), as a tail after the per-leg block (flags bit 3): a
    #: current with the heater commanded off is a shorted switch. A device without a heater current
    #: sensor leaves it out (None).
    heater_current_A: tuple[float, ...] | None = None

    def pack(self) -> bytes:
        n_legs, n_cells = len(self.manifold_mmHg), len(self.pressure_mmHg)
        heater = self.heater_current_A is not None
        flags = int(self.relay_open) | int(self.armed) << 1 | int(self.safe_requested) << 2 | int(heater) << 3
        out = self._HEAD.pack(
            self.t_ms & 0xFFFFFFFF,
            self.sample & 0xFFFFFFFF,
            self.heartbeat_heard & 0xFFFFFFFF,
            flags,
            n_legs,
            n_cells,
        )
        values = [_i16(p, 10) for p in self.pressure_mmHg]
        for leg in range(n_legs):
            values += [
                _i16(self.manifold_mmHg[leg], 10),
                _i16(self.skin_temp_C[leg], 100),
                _i16(self.pump_current_A[leg], 1000),
                _i16(self.roller_current_A[leg], 1000),
                _i16(self.vibration_current_A[leg], 1000),
            ]
        if self.heater_current_A is not None:
            values += [_i16(a, 1000) for a in self.heater_current_A]
        return out + struct.pack(f"<{len(values)}h", *values)

    @classmethod
    def unpack(cls, payload: bytes) -> SensorSample:
        if len(payload) < cls._HEAD.size:
            raise MessageError(f"SENSORS: {len(payload)} bytes, shorter than its header")
        t_ms, sample, heard, flags, n_legs, n_cells = cls._HEAD.unpack_from(payload)
        if not 1 <= n_legs <= MAX_LEGS or not 1 <= n_cells <= MAX_CELLS:
            raise MessageError(f"SENSORS: {n_legs} legs, {n_cells} cells")
        heater = bool(flags & 8)
        count = n_cells + 5 * n_legs + (n_legs if heater else 0)
        _check_size(payload, cls._HEAD.size + 2 * count, "SENSORS")
        v = struct.unpack_from(f"<{count}h", payload, cls._HEAD.size)
        legs = [v[n_cells + 5 * k : n_cells + 5 * k + 5] for k in range(n_legs)]
        tail = tuple(a / 1000 for a in v[n_cells + 5 * n_legs :]) if heater else None
        return cls(
            t_ms,
            sample,
            heard,
            bool(flags & 1),
            bool(flags & 2),
            tuple(p / 10 for p in v[:n_cells]),
            tuple(g[0] / 10 for g in legs),
            tuple(g[1] / 100 for g in legs),
            tuple(g[2] / 1000 for g in legs),
            tuple(g[3] / 1000 for g in legs),
            tuple(g[4] / 1000 for g in legs),
            bool(flags & 4),
            tail,
        )


@dataclass(frozen=True)
class Fault(_FixedLayout):
    """Device → host: the device opened its relay by itself. ``where`` is a cell or leg index
    (``NO_INDEX`` for none); ``value`` is the reading that tripped it (0.1 mmHg, 0.1 °C) or, for a
    lost heartbeat, the silence in ms."""

    TYPE: ClassVar[MsgType] = MsgType.FAULT
    _S: ClassVar[struct.Struct] = struct.Struct("<BBIh")
    code: int
    where: int
    t_ms: int
    value: int

    def pack(self) -> bytes:
        return self._S.pack(self.code, self.where, self.t_ms & 0xFFFFFFFF, self.value)


@dataclass(frozen=True)
class Ack(_FixedLayout):
    """Device → host: the frame with this sequence number and type was carried out."""

    TYPE: ClassVar[MsgType] = MsgType.ACK
    _S: ClassVar[struct.Struct] = struct.Struct("<HB")
    seq: int
    of_type: int


@dataclass(frozen=True)
class Nack(_FixedLayout):
    """Device → host: the frame with this sequence number and type was refused, and why."""

    TYPE: ClassVar[MsgType] = MsgType.NACK
    _S: ClassVar[struct.Struct] = struct.Struct("<HBB")
    seq: int
    of_type: int
    reason: int


Message = Hello | Command | Heartbeat | Safe | Reset | Capabilities | SensorSample | Fault | Ack | Nack
MESSAGES: dict[int, type[Message]] = {
    cls.TYPE: cls
    for cls in (Hello, Command, Heartbeat, Safe, Reset, Capabilities, SensorSample, Fault, Ack, Nack)
}


def decode(frame: Frame) -> Message:
    """The message a checked frame carries; `MessageError` for an unknown type or a bad payload."""
    cls = MESSAGES.get(frame.type)
    if cls is None:
        raise MessageError(f"unknown message type 0x{frame.type:02x}")
    return cls.unpack(frame.payload)


def encode(message: Message, seq: int, version: int = PROTOCOL_VERSION) -> bytes:
    """A message as it goes on the wire (stuffed, CRC, delimiter)."""
    return encode_frame(message.TYPE, seq, message.pack(), version)


@dataclass
class Sequencer:
    """The sender's frame counter: one per direction, wrapping at 2¹⁶."""

    version: int = PROTOCOL_VERSION
    next_seq: int = 0
    sent: dict[str, int] = field(default_factory=dict)

    def frame(self, message: Message) -> tuple[int, bytes]:
        seq = self.next_seq
        self.next_seq = (seq + 1) & 0xFFFF
        name = type(message).__name__
        self.sent[name] = self.sent.get(name, 0) + 1
        return seq, encode(message, seq, self.version)


class SampleArrays(TypedDict):
    """The `Sensors` fields of a sample's per-cell and per-leg readings."""

    pressure_mmHg: np.ndarray
    manifold_mmHg: np.ndarray
    skin_temp_C: np.ndarray
    pump_current_A: np.ndarray
    roller_current_A: np.ndarray
    vibration_current_A: np.ndarray
    heater_current_A: np.ndarray | None


def sample_arrays(s: SensorSample) -> SampleArrays:
    """The per-cell and per-leg readings of a sample as arrays (the `Sensors` fields)."""
    return {
        "pressure_mmHg": np.array(s.pressure_mmHg),
        "manifold_mmHg": np.array(s.manifold_mmHg),
        "skin_temp_C": np.array(s.skin_temp_C),
        "pump_current_A": np.array(s.pump_current_A),
        "roller_current_A": np.array(s.roller_current_A),
        "vibration_current_A": np.array(s.vibration_current_A),
        "heater_current_A": None if s.heater_current_A is None else np.array(s.heater_current_A),
    }
