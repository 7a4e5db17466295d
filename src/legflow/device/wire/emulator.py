"""A device emulator: the simulated massager behind a pseudo-terminal, speaking the wire protocol
as a massager's firmware would, so the host side (driver, engine, supervisor) runs unchanged
against it.

The firmware part is its own: it answers HELLO with the device's capabilities, streams sensor
samples, takes commands, and opens the master relay by itself when the host goes quiet (no command
or heartbeat for ``heartbeat_timeout_s``), when a cell's pressure passes its trip pressure, or when
the skin under a heater passes its trip temperature. It tells the host why with a FAULT message,
and repeats that FAULT to every HELLO until a reset, so a host that connects later learns why the
device is latched; its samples tell a relay opened by a host's SAFE from one opened by a fault.
Faults (`FaultSpec`) are injected into the physics; their times count from the first HELLO.

What it does not model: baud-rate limits and line noise (a pty passes bytes at memory speed and
never corrupts them), a USB-serial adapter vanishing, and firmware timing jitter beyond the host
machine's own scheduling.
"""

from __future__ import annotations

import copy
import os
import select
import threading
import tty
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from legflow.clock import Clock, RealClock
from legflow.device.faults import FaultSpec
from legflow.device.massager import Commands, HEARTBEAT_TIMEOUT_s
from legflow.device.profile import DeviceProfile
from legflow.device.sim import SimulatedMassager, warm_up
from legflow.device.sim.simulator import Limb
from legflow.device.wire.framing import PROTOCOL_VERSION, Frame, FrameParser
from legflow.device.wire.messages import (
    NO_INDEX,
    Ack,
    Capabilities,
    Command,
    Fault,
    FaultCode,
    Heartbeat,
    Hello,
    Message,
    MessageError,
    MsgType,
    Nack,
    NackReason,
    Reset,
    Safe,
    SensorSample,
    Sequencer,
    decode,
)
from legflow.errors import DeviceError

DEFAULT_RATE_hz = 100
FIRMWARE = "legflow-emulator 1"
#: The watchdog acts this much before the heartbeat timeout, so that the relay is open by the time
#: the timeout has passed (the firmware loop's reaction budget).
WATCHDOG_REACTION_s = 0.005
#: The firmware's own heater trip above the profile's pad limit.
HEATER_TRIP_MARGIN_C = 2.0
#: The firmware's own over-pressure trip above each cell's rating, on its sensed pressure (the
#: simulated pressure switch under it trips at the same margin on the true pressure).
TRIP_MARGIN_mmHg = 10.0
#: Bytes waiting for a host that does not read are dropped past this backlog.
TX_BACKLOG_MAX = 4096


@dataclass(frozen=True)
class VentEvent:
    """The device opened its relay: when (clock time), why, and how long the host had been quiet."""

    t_s: float
    reason: (
        str  # heartbeat_lost | over_pressure | over_temperature | pressure_switch | host_request | host_fault
    )
    silence_s: float | None
    where: str | None = None


class Emulator:
    """The firmware of a `profile` massager around a `SimulatedMassager`, on a pseudo-terminal."""

    def __init__(
        self,
        profile: DeviceProfile,
        *,
        faults: Sequence[FaultSpec] = (),
        seed: int = 0,
        limb: Limb | None = None,
        sensor_rate_hz: int = DEFAULT_RATE_hz,
        heartbeat_timeout_s: float = HEARTBEAT_TIMEOUT_s,
        clock: Clock | None = None,
        version: int = PROTOCOL_VERSION,
        log: Callable[[str], None] | None = None,
    ):
        if len(profile.legs) * len(profile.cells) > 32:
            raise DeviceError(f"profile '{profile.name}' has more than 32 cells: the protocol carries 32")
        if not 1 <= sensor_rate_hz <= 1000:
            raise DeviceError(f"sensor rate {sensor_rate_hz} Hz: choose 1 to 1000 Hz")
        self.profile = profile
        self.faults = list(faults)
        self.seed = seed
        self.limb = limb
        self.default_rate_hz = sensor_rate_hz
        self.rate_hz = sensor_rate_hz
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.clock: Clock = clock or RealClock()
        self.version = version
        self._log = log or (lambda line: None)
        self.boot_s = self.clock.now()
        self.parser = FrameParser(version)
        self.tx = Sequencer(version)
        self.sim: SimulatedMassager | None = None
        self.vents: list[VentEvent] = []
        self.hellos = 0
        self.commands_heard = 0
        self.nacks = 0
        self.tx_dropped = 0
        self.heartbeat_heard = 0
        self.last_heartbeat_s: float | None = None
        self.armed = False
        self.safe = False
        #: The FAULT that latched the relay open (None: closed, or opened by a host's SAFE).
        self.fault: Fault | None = None
        self.port: str | None = None
        self._master: int | None = None
        self._slave: int | None = None
        self._backlog = bytearray()
        self._next_sample_s = self.boot_s
        self._commands = Commands.idle(len(profile.legs), len(profile.legs) * len(profile.cells))
        ratings_mmHg = [c.max_pressure_mmHg for c in profile.cells] * len(profile.legs)
        self._trip_mmHg = np.array(ratings_mmHg) + TRIP_MARGIN_mmHg
        self._heater_trip_C = (
            None if profile.heater_max_C is None else profile.heater_max_C + HEATER_TRIP_MARGIN_C
        )
        self._cell_names = profile.cell_names()
        self._stop = threading.Event()
        #: Held while the firmware loop works: hold it to look at `sim` from another thread.
        self.lock = threading.RLock()
        self._thread: threading.Thread | None = None

    # --- the port ---------------------------------------------------------------------------------
    def open(self) -> str:
        """Make the pseudo-terminal; returns the port a host opens (``/dev/pts/N``). The emulator
        keeps the other end open too, so a host may leave and come back."""
        warm_up()  # compile or load the kernels now, not at the first HELLO
        if self.limb is not None:
            copy.deepcopy(self.limb).step(np.zeros(self._shape()[1]))
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no line editing: bytes pass as they are
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.port = os.ttyname(slave)
        return self.port

    def close(self) -> None:
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None

    def start(self) -> str:
        """Open the port and serve it from a background thread (tests); returns the port."""
        port = self.open()
        self._thread = threading.Thread(target=self.serve, name="legflow-emulator", daemon=True)
        self._thread.start()
        return port

    def request_stop(self) -> None:
        """Make `serve()` return soon (from a signal handler or another thread)."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.close()

    # --- the firmware loop ------------------------------------------------------------------------
    def serve(self) -> None:
        """Run until `stop()`: read frames, keep the watchdog, stream samples at the rate."""
        if self._master is None:
            self.open()
        master = self._master
        assert master is not None
        while not self._stop.is_set():
            now = self.clock.now()
            wake = min(self._next_sample_s if self.sim is not None else now + 0.05, self._watchdog_at())
            wait = min(max(0.0, wake - now), 0.05)
            writers = [master] if self._backlog else []
            readable, writable, _ = select.select([master], writers, [], wait)
            with self.lock:
                if readable:
                    try:
                        data = os.read(master, 4096)
                    except (BlockingIOError, InterruptedError):
                        data = b""
                    if data:
                        self._receive(data)
                if writable:
                    self._flush()
                now = self.clock.now()
                self._watchdog(now)
                if self.sim is not None and now >= self._next_sample_s:
                    self._sample(now)
                    self._next_sample_s = max(self._next_sample_s + 1.0 / self.rate_hz, now)

    def _watchdog_at(self) -> float:
        if not self.armed or self.safe or self.last_heartbeat_s is None:
            return float("inf")
        return self.last_heartbeat_s + self.heartbeat_timeout_s - WATCHDOG_REACTION_s

    def _watchdog(self, now: float) -> None:
        if now >= self._watchdog_at():
            assert self.last_heartbeat_s is not None
            silence = now - self.last_heartbeat_s
            self._vent(now, "heartbeat_lost", FaultCode.HEARTBEAT_LOST, NO_INDEX, round(silence * 1000))

    @property
    def link_lost(self) -> bool:
        """An injected ``link_loss``: the cable is cut, nothing passes either way."""
        return self.sim is not None and any(f.kind == "link_loss" for _, f in self.sim.applied_faults)

    def _receive(self, data: bytes) -> None:
        if self.link_lost:
            return
        for frame in self.parser.feed(data):
            self._handle(frame)
        if self.parser.other_type == MsgType.HELLO:  # a host of another version: say who we are
            self.parser.other_type = None
            self._send(self._capabilities())

    def _handle(self, frame: Frame) -> None:
        try:
            message = decode(frame)
        except MessageError:
            self.parser.counters.bad_message += 1
            known = frame.type in MsgType._value2member_map_
            self._nack(frame, NackReason.BAD_PAYLOAD if known else NackReason.UNKNOWN_TYPE)
            return
        now = self.clock.now()
        if isinstance(message, Hello):
            self._hello(message, frame)
        elif self.sim is None:
            self._nack(frame, NackReason.NOT_READY)
        elif isinstance(message, Command):
            self._command(message, frame, now)
        elif isinstance(message, Heartbeat):
            self._heard(message.heartbeat, now)
            if not self.safe:
                self.sim.apply(self._commands)  # the actuators stay as they are; the sim's watchdog too
        elif isinstance(message, Safe):
            if message.fault and self.fault is None:  # a host's fault latches, as one of ours
                self._vent(now, "host_fault", FaultCode.HOST_FAULT, message.where, 0)
            elif not self.safe:
                self._vent(now, "host_request", None, NO_INDEX, 0)
            self._send(Ack(frame.seq, frame.type))
        elif isinstance(message, Reset):
            self._reset()
            self._send(Ack(frame.seq, frame.type))
        else:  # a device → host message sent to the device
            self._nack(frame, NackReason.UNKNOWN_TYPE)

    def press_reset(self) -> None:
        """The reset button on the device: what a RESET message does (from any thread)."""
        with self.lock:
            if self.sim is not None:
                self._reset()

    def _reset(self) -> None:
        assert self.sim is not None
        self.sim.reset()
        self.safe = self.armed = False
        self.fault = None
        self._commands = Commands.idle(*self._shape())
        self._log("reset: relay closed; the watchdog arms with the next command")

    def _hello(self, hello: Hello, frame: Frame) -> None:
        self.hellos += 1
        if hello.version != self.version:
            self._nack(frame, NackReason.BAD_VERSION)
            self._send(self._capabilities())
            return
        self.rate_hz = hello.sensor_rate_hz if 1 <= hello.sensor_rate_hz <= 1000 else self.default_rate_hz
        if self.sim is None:
            self.sim = SimulatedMassager(self.profile, self.clock, self.faults, self.seed, limb=self.limb)
            self._next_sample_s = self.clock.now()
        self._log(f"host said hello (protocol v{hello.version}); streaming at {self.rate_hz} Hz")
        self._send(self._capabilities())
        if self.fault is not None:  # still latched: say why again, for a host that was not there
            self._send(self.fault)

    def _command(self, command: Command, frame: Frame, now: float) -> None:
        n_legs, n_cells = self._shape()
        if len(command.pump_duty) != n_legs or len(command.inlet_open) != n_cells:
            self._nack(frame, NackReason.WRONG_SHAPE)
            return
        self.commands_heard += 1
        self._heard(command.heartbeat, now)
        if self.safe:  # the relay stays open until a reset: actuator requests are ignored
            return
        c = self._commands
        c.inlet_open[:] = command.inlet_open
        c.exhaust_open[:] = command.exhaust_open
        c.pump_duty[:] = command.pump_duty
        c.heater_power[:] = command.heater_power
        c.roller_speed[:] = command.roller_speed
        c.roller_zones[:], c.roller_deep[:] = command.roller_arrays(n_legs)
        c.vibration_level[:] = np.minimum(command.vibration_level, self.profile.vibration_max_level)
        c.heartbeat = command.heartbeat
        assert self.sim is not None
        self.sim.apply(c)
        self.armed = True

    def _heard(self, heartbeat: int, now: float) -> None:
        self.heartbeat_heard = heartbeat
        self.last_heartbeat_s = now

    def _sample(self, now: float) -> None:
        assert self.sim is not None
        s = self.sim.read()
        if not self.safe:
            self._trips(now, s.pressure_mmHg, s.skin_temp_C, s.relay_open)
        if self.link_lost:
            return
        sample = SensorSample(
            round((s.t_s - self.boot_s) * 1000),
            s.seq,
            self.heartbeat_heard,
            self.safe or s.relay_open,
            self.armed,
            tuple(s.pressure_mmHg),
            tuple(s.manifold_mmHg),
            tuple(s.skin_temp_C),
            tuple(s.pump_current_A),
            tuple(s.roller_current_A),
            tuple(s.vibration_current_A),
            self.safe and self.fault is None,
            None if s.heater_current_A is None else tuple(s.heater_current_A),
        )
        self._send(sample)

    def _trips(self, now: float, pressure_mmHg: np.ndarray, skin_C: np.ndarray, relay_open: bool) -> None:
        """The firmware's own limits, on its own sensors; and the pressure switch below it."""
        over = np.flatnonzero(pressure_mmHg > self._trip_mmHg)
        if over.size:
            k = int(over[0])
            self._vent(now, "over_pressure", FaultCode.OVER_PRESSURE, k, round(pressure_mmHg[k] * 10))
        elif self._heater_trip_C is not None and np.any(skin_C > self._heater_trip_C):
            leg = int(np.argmax(skin_C))
            self._vent(now, "over_temperature", FaultCode.OVER_TEMPERATURE, leg, round(skin_C[leg] * 10))
        elif relay_open:  # the relay opened under the firmware (the sim's pressure switch or watchdog)
            self._vent(now, "pressure_switch", FaultCode.PRESSURE_SWITCH, NO_INDEX, 0)

    def _vent(self, now: float, reason: str, code: FaultCode | None, where: int, value: int) -> None:
        assert self.sim is not None
        self.sim.safe_state()
        self.safe, self.armed = True, False
        self._commands = Commands.idle(*self._shape())
        silence = None if self.last_heartbeat_s is None else now - self.last_heartbeat_s
        name = None
        if where != NO_INDEX:
            by_cell = code in (FaultCode.OVER_PRESSURE, FaultCode.HOST_FAULT)
            name = self._cell_names[where] if by_cell else self.profile.legs[where]
        self.vents.append(VentEvent(now, reason, silence, name))
        quiet = f"; host quiet for {silence * 1000:.0f} ms" if silence is not None else ""
        self._log(f"relay open: {reason.replace('_', ' ')}{f' at {name}' if name else ''}{quiet}")
        if code is not None:
            self.fault = Fault(code, where, round((now - self.boot_s) * 1000), value)
            self._send(self.fault)

    # --- sending ------------------------------------------------------------------------------
    def _capabilities(self) -> Capabilities:
        p = self.profile
        return Capabilities(
            self.version,
            p.name,
            len(p.legs),
            len(p.cells),
            p.rollers is not None,
            p.heater_max_C is not None,
            p.vibration_max_level,
            round(self.heartbeat_timeout_s * 1000),
            self.rate_hz,
            self._heater_trip_C,
            tuple(float(t) for t in self._trip_mmHg[: len(p.cells)]),
            FIRMWARE,
            roller_zones=p.rollers is not None,  # its simulated rollers work only the zones named
            host_faults_latch=True,
        )

    def _nack(self, frame: Frame, reason: NackReason) -> None:
        self.nacks += 1
        self._send(Nack(frame.seq, frame.type, reason))

    def _send(self, message: Message) -> None:
        if self.link_lost or self._master is None:
            return
        _, data = self.tx.frame(message)
        self._backlog += data
        if len(self._backlog) > TX_BACKLOG_MAX:  # nobody reads: drop the oldest bytes
            self.tx_dropped += 1
            del self._backlog[: len(self._backlog) - TX_BACKLOG_MAX]
        self._flush()

    def _flush(self) -> None:
        try:
            written = os.write(self._master, self._backlog) if self._master is not None else 0
        except (BlockingIOError, InterruptedError):
            return
        del self._backlog[:written]

    def _shape(self) -> tuple[int, int]:
        return len(self.profile.legs), len(self.profile.legs) * len(self.profile.cells)

    def report(self) -> str:
        """The counters in one line."""
        rx = self.parser.counters
        return (
            f"{self.hellos} hellos, {self.commands_heard} commands, {rx.frames} frames in, "
            f"{self.tx.sent.get('SensorSample', 0)} samples out, {rx.rejected} "
            f"rejected (bad CRC {rx.bad_crc}, bad length {rx.bad_length}, overruns {rx.overruns}), "
            f"{self.nacks} refused; vents: {', '.join(v.reason for v in self.vents) or 'none'}"
        )
