"""Compiling every numba kernel a session calls before the session starts.

numba compiles a kernel at its first call, or loads it from its disk cache (``cache=True``). With a
cold cache (a fresh install, or an upgrade that changed a kernel's source) each first call takes
from a fraction of a second to several seconds, and at a session's first ticks that stalls the
loop: on hardware the host neither commands nor reads for seconds, so the device's heartbeat
watchdog (500 ms) opens its relay, or the supervisor finds a sensor that has not changed in all
that time (frozen), and the first session after an install ends as a fault.

So the launcher rehearses a session first (`warm_up`): a few seconds of a program that runs every
actuator, on a virtual clock, through the very classes a session uses (the supervisor, the
controllers, the session loop with its leg twin, and the simulated massager, or for hardware a
stand-in whose readings are decoded by the wire protocol's own code, as the serial driver decodes
them). Every kernel is then compiled for exactly the argument types the real session passes it,
and numba has nothing left to compile once the session runs. With a warm cache the rehearsal only
loads what the session would load anyway, and its ticks take milliseconds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from numba.core import event

from legflow.apps.limb import leg_twin
from legflow.clock import VirtualClock
from legflow.device.massager import Commands, Massager, Sensors
from legflow.device.profile import DeviceProfile, load_profile
from legflow.device.wire.messages import SensorSample, sample_arrays
from legflow.engine.session import Session
from legflow.programs.loader import validate_text
from legflow.safety.limits import DEFAULT_LIMITS
from legflow.safety.supervisor import Supervisor

#: The rehearsal: every actuator from the first tick (compression on two zones of both legs,
#: rollers, vibration, heat), long enough for the twin's steps, the history samples and a cell
#: filled and held; the session's end vents and summarises as any other.
REHEARSAL = """
[program]
name = "Warm-up"
goal = "custom"
summary = "A few seconds of every actuator, so that a session compiles nothing while it runs."
legs = "both"

[[phase]]
name = "all"
duration_min = 0.05
  [phase.compression]
  pattern = "sequential"
  zones = ["foot", "calf"]
  pressure_mmHg = 30
  inflate_s = 1.0
  delay_s = 0.2
  hold_s = 1.0
  release_s = 0.5
  rest_s = 0.5
  [phase.rollers]
  zones = ["sole.arch"]
  speed = "slow"
  depth = "gentle"
  [phase.vibration]
  level = 1
  [phase.heat]
  target_C = 38.0
"""

#: Called with a kernel's module and name as numba starts compiling it (not when it loads it).
OnCompile = Callable[[str, str], None]

_lock = threading.Lock()
_warm: set[bool] = set()  # simulated (True) and hardware (False) rehearsals done in this process


def warm_up(simulated: bool, on_compile: OnCompile | None = None) -> None:
    """Compile (or load from numba's cache) every kernel of a session on the simulated massager
    (`simulated`) or on hardware, once per process; ``on_compile`` hears each compile start."""
    with _lock:
        if simulated in _warm:
            return
        listener = _CompileListener(on_compile) if on_compile is not None else None
        if listener is not None:
            event.register("numba:compile", listener)
        try:
            rehearse(simulated)
        finally:
            if listener is not None:
                event.unregister("numba:compile", listener)
        _warm.add(simulated)


def rehearse(simulated: bool) -> dict[str, Any]:
    """Run the rehearsal program as `legflow.apps.launch` wires a session, on a virtual clock;
    returns its summary (one that ended early, on a fault, would have left kernels uncalled)."""
    profile = load_profile()
    program = validate_text(REHEARSAL, "<warm-up>").program
    clock = VirtualClock()
    twin = leg_twin(profile)
    if simulated:
        from legflow.device.sim import SimulatedMassager  # the simulator only where it runs

        massager: Massager = SimulatedMassager(profile, clock, limb=twin)
    else:
        massager = WireStandIn(profile, clock)
    supervisor = Supervisor(massager, DEFAULT_LIMITS, clock)
    session = Session(program, "warm-up", supervisor, clock, twin=twin, drive_twin=not simulated)
    with massager:
        return session.run(on_update=lambda state: None)


class WireStandIn(Massager):
    """A massager for the hardware rehearsal: each reading is packed and unpacked by the wire
    protocol's `SensorSample` and turned into `Sensors` by `sample_arrays`, as the serial driver
    turns what it receives, so the host's kernels see the types a device gives. Its cells fill
    while their inlet is open to a running pump and empty through an open exhaust, so the
    rehearsal runs to its end, as on a sound device, with no detector tripping."""

    FILL_mmHg_per_s = 40.0
    EMPTY_PER_s = 5.0  # share of its pressure a venting cell loses per second

    def __init__(self, profile: DeviceProfile, clock: VirtualClock):
        self.profile = profile
        self._clock = clock
        self._seq = 0
        self._last_s = clock.now()
        self._cell_leg = np.repeat(np.arange(self.n_legs), len(profile.cells))
        self._pressure = np.zeros(self.n_cells)
        self._commands = Commands.idle(self.n_legs, self.n_cells)

    def read(self) -> Sensors:
        now = self._clock.now()
        dt, self._last_s = now - self._last_s, now
        c = self._commands
        filling = c.inlet_open & (c.pump_duty[self._cell_leg] > 0.0)
        self._pressure += self.FILL_mmHg_per_s * dt * filling
        self._pressure -= np.minimum(1.0, self.EMPTY_PER_s * dt) * self._pressure * c.exhaust_open
        manifold = np.zeros(self.n_legs)  # what the cells open to it hold
        np.maximum.at(manifold, self._cell_leg, self._pressure * c.inlet_open)
        self._seq += 1
        noise = 0.1 * (self._seq % 3)  # a live sensor's noise (a bit-identical reading is a fault)
        n_legs = self.n_legs
        sample = SensorSample(
            t_ms=round(now * 1000),
            sample=self._seq,
            heartbeat_heard=self._seq,
            relay_open=False,
            armed=True,
            pressure_mmHg=tuple(self._pressure + noise),
            manifold_mmHg=tuple(manifold + noise),
            skin_temp_C=(33.0 + noise,) * n_legs,
            pump_current_A=(0.5,) * n_legs,
            roller_current_A=(0.2,) * n_legs,
            vibration_current_A=(0.2,) * n_legs,
            heater_current_A=(0.0,) * n_legs,
        )
        received = SensorSample.unpack(sample.pack())
        return Sensors(t_s=received.t_ms / 1000, seq=received.sample, **sample_arrays(received))

    def apply(self, commands: Commands) -> None:
        self._commands = commands.copy()

    def safe_state(self, fault: bool = False, cell: int | None = None) -> None:
        self._commands = Commands.idle(self.n_legs, self.n_cells)

    def reset(self) -> None:
        pass


class _CompileListener(event.Listener):
    """Passes the start of each compile on (numba fires no event for a kernel loaded from cache)."""

    def __init__(self, on_compile: OnCompile):
        self._on_compile = on_compile

    def on_start(self, ev: event.Event) -> None:
        function = ev.data["dispatcher"].py_func
        self._on_compile(function.__module__, function.__qualname__)

    def on_end(self, ev: event.Event) -> None:
        pass
