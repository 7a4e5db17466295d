"""`SerialMassager`: the `Massager` interface over a serial port, speaking the wire protocol
(docs/protocol.md) to a massager's firmware or to `legflow emulate`.

Opening the port says HELLO and waits for the device's capabilities; the device profile is the one
the device names, checked against what it reports. A reader thread then takes the sensor stream;
`read()` returns the newest sample, whose ``seq`` stops advancing when the link is lost, so the
supervisor's link detector sees a silent device as it sees any other. `apply()` sends one COMMAND
(which feeds the device's watchdog) and never blocks a tick for long: a write that cannot go out is
counted, not retried. If the port fails (a cable pulled, the emulator gone) the reader reopens it
and says HELLO again until it answers; the device has vented by then, and only a user's reset
closes its relay again.

The device's own safe state is visible in `read()`: a FAULT, or a sample whose relay flag is set
without a host's SAFE, gives `Sensors.relay_open` and `Sensors.device_fault` (why, in words), which
the supervisor latches as a ``device`` fault. Before a session, `make_ready()` resets a device that
rests in the safe state a host asked for and refuses one latched by its own fault unless told to
reset it, so no session runs on a device that would deliver nothing.

Errors a user sees are one line: the port is missing or busy, the device does not answer, it speaks
another protocol version, or it names a profile this legflow does not know or does not match.
"""

from __future__ import annotations

import contextlib
import errno
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import serial

from legflow.clock import Clock, RealClock
from legflow.device.massager import Commands, HEARTBEAT_TIMEOUT_s, Massager, Sensors
from legflow.device.profile import DeviceProfile, load_profile, profile_names
from legflow.device.wire.framing import PROTOCOL_VERSION, FrameParser
from legflow.device.wire.messages import (
    NO_INDEX,
    Ack,
    Capabilities,
    Command,
    Fault,
    FaultCode,
    Hello,
    Message,
    MessageError,
    Nack,
    NackReason,
    Reset,
    Safe,
    SensorSample,
    Sequencer,
    decode,
    sample_arrays,
)
from legflow.errors import DeviceError, ProfileError

DEFAULT_BAUD = 115200
DEFAULT_RATE_hz = 100
#: How long to wait for a device to answer HELLO, and for an ACK of SAFE or RESET.
CONNECT_TIMEOUT_s = 3.0
REPLY_TIMEOUT_s = 0.3
HELLO_EVERY_s = 0.25
READ_TIMEOUT_s = 0.02
RECONNECT_EVERY_s = 0.5
#: How long `read()` gives the reader thread to take bytes already waiting (after the host stalled).
CATCH_UP_s = 0.05
#: How long after a RESET's ACK a sample must show the relay closed (at least 3 sample periods).
RESET_CONFIRM_s = 0.5
#: `Sensors.device_fault` for a relay the device reports open by itself with no FAULT heard.
RELAY_OPEN_BY_ITSELF = "the device reports its relay open"


@dataclass
class DriverStats:
    """What the driver counted: writes that could not go out, reconnections, device faults."""

    write_timeouts: int = 0
    write_errors: int = 0
    reconnects: int = 0
    nacks: list[str] = field(default_factory=list)


class DeviceLatched(DeviceError):
    """The device holds its relay open after a fault of its own: no session before a user's reset."""


class SerialMassager(Massager):
    """A massager on a serial port (``/dev/ttyUSB0``, ``COM3``, a pty from `legflow emulate`)."""

    def __init__(
        self,
        port: str,
        *,
        baud: int = DEFAULT_BAUD,
        sensor_rate_hz: int = DEFAULT_RATE_hz,
        timeout_s: float = CONNECT_TIMEOUT_s,
        clock: Clock | None = None,
        log: Callable[[str], None] | None = None,
    ):
        self.port = port
        self.baud = baud
        self.sensor_rate_hz = sensor_rate_hz
        self.timeout_s = timeout_s
        self.clock: Clock = clock or RealClock()
        self._log = log or (lambda line: None)
        self.parser = FrameParser()
        self.tx = Sequencer()
        self.stats = DriverStats()
        self.device_faults: list[Fault] = []
        self._write_lock = threading.Lock()
        self._replies = threading.Condition()
        self._answers: dict[int, Ack | Nack] = {}
        self._latest: Sensors | None = None
        #: The FAULT behind the open relay, until a sample after it shows the relay closed again.
        self._fault: Fault | None = None
        self._samples = 0  # samples received; and how many when the latest CAPABILITIES came
        self._samples_at_hello = 0
        self._reads_started = self._reads_done = 0  # the reader thread's reads, for `read()` to catch up
        self._closing = threading.Event()
        self._serial: serial.Serial | None = self._open()
        try:
            self.capabilities = self._handshake(self._serial, timeout_s)
            self.profile = check_profile(self.capabilities, port)
            self._await_first_sample(self._serial, timeout_s)
        except BaseException:
            _release(self._serial)
            raise
        self.connected = True
        self._reader = threading.Thread(target=self._read_loop, name=f"legflow-serial {port}", daemon=True)
        self._reader.start()

    # --- the Massager interface ---------------------------------------------------------------
    def read(self) -> Sensors:
        self._catch_up()
        sensors = self._latest
        assert sensors is not None  # the constructor waits for the first sample
        return sensors

    @property
    def selects_roller_zones(self) -> bool:  # type: ignore[override]
        """Only a device that reads COMMAND's roller tail works just the zones named."""
        return self.capabilities.roller_zones

    def apply(self, commands: Commands) -> None:
        c = commands
        tail = self.capabilities.roller_zones  # a device without it refuses a longer COMMAND
        self._send(
            Command.from_arrays(
                c.heartbeat,
                c.inlet_open,
                c.exhaust_open,
                c.pump_duty,
                c.heater_power,
                c.roller_speed,
                c.vibration_level,
                c.roller_zones if tail else None,
                c.roller_deep if tail else None,
            )
        )

    def safe_state(self, fault: bool = False, cell: int | None = None) -> None:
        """Ask the device to open its relay, and wait briefly for its ACK. Never raises: without
        an answer the device's own watchdog vents once the commands stop. A host's fault goes with
        it to a device that latches on one (`Capabilities.host_faults_latch`)."""
        latch = fault and self.capabilities.host_faults_latch
        message = Safe(True, NO_INDEX if cell is None else cell) if latch else Safe()
        for _ in range(2):
            if self._request(message) is not None:
                return

    def reset(self) -> None:
        """RESET, then wait for a sample that shows the relay closed: an ACK says the frame arrived,
        a sample says the relay obeyed."""
        answer = self._request(Reset())
        if answer is None:
            raise DeviceError(f"the device on {self.port} did not acknowledge the reset")
        if isinstance(answer, Nack):
            raise DeviceError(f"the device on {self.port} refused the reset ({_reason(answer.reason)})")
        self._fault = None
        after = self._samples  # every sample from here on left the device after the reset
        deadline = self.clock.now() + max(RESET_CONFIRM_s, 3 / max(1, self.capabilities.sensor_rate_hz))
        with self._replies:
            while self._samples <= after or self._latest is None or self._latest.relay_open:
                left = deadline - self.clock.now()
                if left <= 0 or not self.connected:
                    raise DeviceError(
                        f"the device on {self.port} acknowledged the reset, but its relay stays open"
                    )
                self._replies.wait(left)

    def make_ready(self, reset_latched: bool = False) -> None:
        """Before a session. A device resting in the safe state a host asked for (SAFE at the end of
        the last session) is reset: starting a session is the user's choice to leave it. One latched
        by its own fault (watchdog, over-pressure, over-temperature, pressure switch) is refused with
        `DeviceLatched` unless `reset_latched`, so a session never starts on a device that would
        deliver nothing."""
        sensors = self.read()
        if not sensors.relay_open:
            return
        why = sensors.device_fault
        if why is not None and self._fault is not None:
            why = describe_fault(self._fault, self.profile)  # its cells and legs by name
        if why is not None and not reset_latched:
            raise DeviceLatched(f"the device on {self.port} is latched in its safe state ({why})")
        self._log(f"resetting {self.port}: {why or 'in the safe state a host asked for'}")
        self.reset()

    def close(self) -> None:
        """Vent, then release the port."""
        if self._closing.is_set():
            return
        self.safe_state()
        self._closing.set()
        self._reader.join(timeout=2)
        ser, self._serial = self._serial, None
        if ser is not None:
            _release(ser)

    # --- sending ----------------------------------------------------------------------------------
    def _send(self, message: Message) -> int | None:
        """Write one frame; returns its sequence number, or None when it could not go out."""
        with self._write_lock:
            ser = self._serial
            if ser is None:
                return None
            seq, data = self.tx.frame(message)
            try:
                ser.write(data)
            except serial.SerialTimeoutException:
                self.stats.write_timeouts += 1
                return None
            except (serial.SerialException, OSError):
                self.stats.write_errors += 1
                return None
            return seq

    def _request(self, message: Message) -> Ack | Nack | None:
        """Send a message the device acknowledges; its ACK or NACK, or None after the timeout."""
        seq = self._send(message)
        if seq is None:
            return None
        deadline = self.clock.now() + REPLY_TIMEOUT_s
        with self._replies:
            while seq not in self._answers:
                left = deadline - self.clock.now()
                if left <= 0 or not self.connected:
                    return None
                self._replies.wait(left)
            return self._answers.pop(seq)

    # --- connecting -------------------------------------------------------------------------------
    def _open(self) -> serial.Serial:
        try:
            return serial.Serial(
                self.port, self.baud, timeout=READ_TIMEOUT_s, write_timeout=0.1, exclusive=True
            )
        except serial.SerialException as exc:
            raise DeviceError(f"cannot open {self.port}: {_why(exc)}") from None
        except ValueError as exc:
            raise DeviceError(f"cannot open {self.port}: {exc}") from None

    def _handshake(self, ser: serial.Serial, timeout_s: float) -> Capabilities:
        """Say HELLO until the device answers with its capabilities."""
        ser.reset_input_buffer()
        start = self.clock.now()
        said = -HELLO_EVERY_s
        while self.clock.now() - start < timeout_s:
            if self.clock.now() - said >= HELLO_EVERY_s:
                said = self.clock.now()
                _, data = self.tx.frame(Hello(PROTOCOL_VERSION, self.sensor_rate_hz))
                ser.write(data)
            for message in self._receive(ser.read(max(1, ser.in_waiting))):
                if isinstance(message, Capabilities):
                    if message.version != PROTOCOL_VERSION:
                        raise _version_error(self.port, message.version)
                    return message
            if self.parser.other_version is not None:
                raise _version_error(self.port, self.parser.other_version)
        damaged = self.parser.counters.rejected
        hint = f" ({damaged} damaged frames: check the baud rate)" if damaged else ""
        raise DeviceError(
            f"no answer from {self.port} within {timeout_s:g} s{hint}: is a legflow device "
            "(or `legflow emulate`) on this port?"
        )

    def _await_first_sample(self, ser: serial.Serial, timeout_s: float) -> None:
        """Wait for a sample sent after the CAPABILITIES (older ones may wait in the port)."""
        start = self.clock.now()
        while self._samples <= self._samples_at_hello:
            if self.clock.now() - start > timeout_s:
                raise DeviceError(f"the device on {self.port} answered but sends no sensor samples")
            self._receive(ser.read(max(1, ser.in_waiting)))

    def _read_loop(self) -> None:
        """The reader thread: the sensor stream, ACKs and faults; reconnects a failed port."""
        while not self._closing.is_set():
            ser = self._serial
            if ser is None or not self.connected:
                self._reconnect()
                continue
            try:
                self._reads_started += 1
                data = ser.read(max(1, ser.in_waiting))
            except (serial.SerialException, OSError, TypeError) as exc:
                self._lost(str(exc))
                continue
            self._receive(data)
            with self._replies:
                self._reads_done = self._reads_started
                self._replies.notify_all()

    def _catch_up(self) -> None:
        """Let the reader take what already waits at the port before a tick reads the sensors. After
        the host stalled (suspended, swapped out) its threads resume together, and the tick must see
        what the device said meanwhile (a FAULT, its relay open), not a stale sample that looks like
        a silent link."""
        ser = self._serial
        try:
            if ser is None or not self.connected or not ser.in_waiting:
                return
        except (serial.SerialException, OSError, TypeError, ValueError):
            return
        deadline = self.clock.now() + CATCH_UP_s
        with self._replies:
            started = self._reads_started  # a read that starts after this takes what was waiting
            while self._reads_done <= started and self.connected and not self._closing.is_set():
                left = deadline - self.clock.now()
                if left <= 0:
                    return
                self._replies.wait(left)

    def _lost(self, why: str) -> None:
        self.connected = False
        self._log(f"lost {self.port} ({why}); reconnecting")
        with self._write_lock:
            ser, self._serial = self._serial, None
        if ser is not None:
            _release(ser)
        with self._replies:
            self._replies.notify_all()

    def _reconnect(self) -> None:
        if self._closing.wait(RECONNECT_EVERY_s):
            return
        try:
            ser = self._open()
        except DeviceError:
            return
        try:
            caps = self._handshake(ser, 1.0)
            check_profile(caps, self.port, expected=self.profile.name)
        except (DeviceError, ProfileError, serial.SerialException, OSError) as exc:
            self._log(f"{self.port}: {exc}")
            _release(ser)
            return
        with self._write_lock:
            self._serial = ser
        self.capabilities = caps
        self.connected = True
        self.stats.reconnects += 1
        self._log(f"reconnected to {self.port}")

    # --- receiving --------------------------------------------------------------------------------
    def _receive(self, data: bytes) -> list[Message]:
        messages = []
        for frame in self.parser.feed(data):
            try:
                message = decode(frame)
            except MessageError:
                self.parser.counters.bad_message += 1
                continue
            messages.append(message)
            if isinstance(message, SensorSample):
                self._samples += 1
                fault = self._fault
                if fault is not None and not message.relay_open and _later(message.t_ms, fault.t_ms):
                    self._fault = fault = None  # closed again since (the device's own reset button)
                relay_open = message.relay_open or fault is not None
                self._latest = Sensors(
                    t_s=message.t_ms / 1000,
                    seq=message.sample,
                    relay_open=relay_open,
                    device_fault=self._why_open(message.safe_requested) if relay_open else None,
                    extra={"heartbeat_heard": float(message.heartbeat_heard)},
                    **sample_arrays(message),
                )
            elif isinstance(message, Fault):
                self.device_faults.append(message)
                self._fault = message
                why = self._why_open(False)
                if self._latest is not None:  # the relay is open now, not from the next sample on
                    self._latest = replace(self._latest, relay_open=True, device_fault=why)
                self._log(f"device fault: {why}")
            elif isinstance(message, Capabilities):
                self._samples_at_hello = self._samples
            elif isinstance(message, Ack | Nack):
                if isinstance(message, Nack):
                    self.stats.nacks.append(f"{message.of_type:#04x}: {_reason(message.reason)}")
                with self._replies:
                    self._answers[message.seq] = message
                    self._replies.notify_all()
        return messages

    def _why_open(self, safe_requested: bool) -> str | None:
        """Why the relay is open, in words; None when only a host's SAFE opened it."""
        if self._fault is not None:
            return describe_fault(self._fault, getattr(self, "profile", None))
        return None if safe_requested else RELAY_OPEN_BY_ITSELF


def check_profile(caps: Capabilities, port: str, expected: str | None = None) -> DeviceProfile:
    """The built-in profile a device names, checked against the shape and limits it reports."""
    if expected is not None and caps.profile != expected:
        raise DeviceError(f"the device on {port} is now a '{caps.profile}', not the '{expected}' it was")
    if caps.profile not in profile_names():
        raise ProfileError(
            f"the device on {port} reports profile '{caps.profile}', which this legflow does not know "
            f"(known: {', '.join(profile_names())})"
        )
    profile = load_profile(caps.profile)
    ratings = [c.max_pressure_mmHg for c in profile.cells]
    problems = []
    if caps.n_legs != len(profile.legs) or caps.cells_per_leg != len(profile.cells):
        problems.append(
            f"{caps.n_legs} legs of {caps.cells_per_leg} cells, the profile "
            f"{len(profile.legs)} of {len(profile.cells)}"
        )
    if caps.has_rollers != (profile.rollers is not None):
        problems.append("rollers " + ("present" if caps.has_rollers else "missing"))
    if caps.has_heater != (profile.heater_max_C is not None):
        problems.append("heater " + ("present" if caps.has_heater else "missing"))
    if caps.vibration_max_level != profile.vibration_max_level:
        problems.append(
            f"vibration up to level {caps.vibration_max_level}, the profile {profile.vibration_max_level}"
        )
    if len(caps.trip_mmHg) == len(ratings) and any(
        t < r for t, r in zip(caps.trip_mmHg, ratings, strict=True)
    ):
        problems.append("its firmware trips below the cells' rated pressures")
    if caps.heartbeat_timeout_ms > round(HEARTBEAT_TIMEOUT_s * 1000):
        problems.append(
            f"its watchdog waits {caps.heartbeat_timeout_ms} ms "
            f"(legflow needs {HEARTBEAT_TIMEOUT_s * 1000:.0f} ms or less)"
        )
    if problems:
        raise DeviceError(
            f"the device on {port} does not match profile '{profile.name}': {'; '.join(problems)}"
        )
    return profile


def describe_fault(fault: Fault, profile: DeviceProfile | None = None) -> str:
    """A device FAULT in words, naming the firmware limit that tripped; with the device's profile,
    its cell or leg by name."""
    when = f"relay opened at device time {fault.t_ms / 1000:.3f} s"
    try:
        code = FaultCode(fault.code)
    except ValueError:
        return f"unknown fault code {fault.code}; {when}"
    cells = profile.cell_names() if profile is not None else []
    legs = profile.legs if profile is not None else ()
    cell = cells[fault.where] if fault.where < len(cells) else f"cell {fault.where}"
    if code == FaultCode.HOST_FAULT:
        at = f" at {cell}" if fault.where != NO_INDEX else ""
        return f"a host's supervisor found a fault{at} and asked for the safe state; {when}"
    leg = f"the {legs[fault.where]} leg" if fault.where < len(legs) else f"leg {fault.where}"
    what = {
        FaultCode.HEARTBEAT_LOST: f"watchdog: no heartbeat for {fault.value} ms",
        FaultCode.OVER_PRESSURE: f"over-pressure trip: {fault.value / 10:.1f} mmHg at {cell}",
        FaultCode.OVER_TEMPERATURE: f"over-temperature trip: {fault.value / 10:.1f} °C at {leg}",
        FaultCode.PRESSURE_SWITCH: "pressure switch: the hardware switch opened the relay",
    }[code]
    return f"{what}; {when}"


def _later(t_ms: int, than_ms: int) -> bool:
    """Device time `t_ms` comes after `than_ms` (u32 milliseconds, wrapping after 49 days)."""
    return 0 < (t_ms - than_ms) % 2**32 < 2**31


def _version_error(port: str, version: int) -> DeviceError:
    return DeviceError(
        f"the device on {port} speaks protocol v{version}; this legflow speaks v{PROTOCOL_VERSION}"
    )


def _reason(code: int) -> str:
    try:
        return NackReason(code).name.lower().replace("_", " ")
    except ValueError:
        return f"reason {code}"


def _why(exc: serial.SerialException) -> str:
    """pyserial's error, said shortly."""
    number = getattr(exc, "errno", None)
    if number == errno.ENOENT:
        return "no such port"
    if number in (errno.EACCES, errno.EPERM):
        return "permission denied (on Linux, join the 'dialout' group)"
    if number in (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK) or "lock" in str(exc).lower():
        return "the port is in use by another program"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _release(ser: serial.Serial) -> None:
    """Close a port we are done with. A failed port may fail its close too (its descriptor already
    gone, EBADF): it is dropped all the same, and the error that made us drop it is the one that
    counts."""
    with contextlib.suppress(serial.SerialException, OSError):
        ser.close()
