"""Building a ready-to-run session from a program name and a user's choices: the one place where
a program is checked for a device and a user, and where massager, supervisor, twin and history are
wired together, so the CLI and the web server start sessions the same way. They get the supervisor
and the session; the massager stays behind the supervisor (closing the launch closes it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from legflow.apps.limb import intensity_cost, leg_twin
from legflow.apps.warmup import warm_up
from legflow.clock import Clock, RealClock, VirtualClock
from legflow.device.faults import FaultSpec
from legflow.device.massager import Massager
from legflow.device.profile import DEFAULT_PROFILE, load_profile
from legflow.device.sim import SimulatedMassager
from legflow.engine.session import RefillFrom, Session
from legflow.errors import DeviceError, LegflowError, UsageError
from legflow.plan import ForDevice, for_device
from legflow.programs.library import resolve
from legflow.programs.loader import ProgramSource
from legflow.records.plan import zone_bounds_mmHg
from legflow.safety.limits import Limits
from legflow.safety.supervisor import Supervisor
from legflow.store import History
from legflow.twin.model import Posture


@dataclass
class Launch:
    """A checked program with its supervisor and session, not started yet. Use it as a context
    manager: leaving the block closes the massager behind the supervisor, in its safe state.
    ``source``: the program as this device runs it; ``changes``: what adapting it changed."""

    source: ProgramSource
    label: str
    supervisor: Supervisor
    session: Session
    clock: Clock
    changes: tuple[str, ...] = ()

    def __enter__(self) -> Launch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.supervisor.close()


def check_faults(specs: list[FaultSpec], cells: list[str], legs: tuple[str, ...]) -> None:
    for spec in specs:
        if spec.where and spec.where not in cells and spec.where not in legs:
            raise LegflowError(f"fault {spec}: no cell or leg '{spec.where}' (cells: {', '.join(cells)})")


def check_request(
    name: str,
    *,
    limits: Limits,
    profile: str = DEFAULT_PROFILE,
    fast: bool = False,
    inject: list[str] | None = None,
    device: str | None = None,
    reset_device: bool = False,
) -> ForDevice:
    """What can be refused before any kernel compiles or a port opens: the options, the program
    and, on the simulated massager, the program adapted to the device profile and checked for it
    and the limits, and the faults to inject. A real device's profile is known only once it
    answers: for one, the program as written (adapted and checked then). Raises `LegflowError`."""
    if device is not None:
        if fast:
            raise UsageError("--fast runs on a virtual clock; a massager on --device runs in real time")
        if inject:
            raise UsageError(
                "--inject changes the simulated physics; with --device, inject faults on the device side "
                "(legflow emulate --inject ...)"
            )
        return ForDevice(resolve(name), (), [])
    if reset_device:
        raise UsageError("--reset-device resets a massager on --device; a simulated massager starts fresh")
    spec = load_profile(profile)
    checked = for_device(resolve(name), spec, limits)
    check_faults([FaultSpec.parse(text) for text in inject or []], spec.cell_names(), spec.legs)
    return checked


def prepare_session(
    name: str,
    *,
    limits: Limits,
    history: History | None,
    user: str = "default",
    profile: str = "reference",
    fast: bool = False,
    inject: list[str] | None = None,
    seed: int = 0,
    subject: str = "adult",
    posture: Posture = "supine",
    fixed_rest: bool = False,
    device: str | None = None,
    refill_from: RefillFrom = "auto",
    reset_device: bool = False,
) -> Launch:
    """Check the program for this device and user, then wire a simulated massager (with the leg
    twin inside its cells) under a supervisor to a session; with `device` (a serial port), the
    massager on that port instead (`reset_device`: reset it if its own fault latched it). Every
    kernel the session calls is compiled (or loaded) first, before the port opens: a session
    never stalls at its first ticks. Raises `LegflowError` on bad input."""
    checked = check_request(
        name,
        limits=limits,
        profile=profile,
        fast=fast,
        inject=inject,
        device=device,
        reset_device=reset_device,
    )
    warm_up(simulated=device is None)
    if device is not None:
        return _prepare_hardware(
            name,
            checked.source,
            device,
            limits=limits,
            history=history,
            user=user,
            profile=profile,
            subject=subject,
            posture=posture,
            fixed_rest=fixed_rest,
            refill_from=refill_from,
            reset_device=reset_device,
        )
    spec = load_profile(profile)
    faults = [FaultSpec.parse(text) for text in inject or []]
    twin = leg_twin(spec, subject, posture)
    clock: Clock = VirtualClock() if fast else RealClock()
    massager = SimulatedMassager(spec, clock, faults=faults, seed=seed, limb=twin)
    return _launch(
        name,
        checked,
        massager,
        clock,
        limits,
        history,
        cost=intensity_cost(checked.source.program, spec, subject, posture),
        user=user,
        twin=twin,
        injected=faults,
        adaptive_rest=not fixed_rest,
        refill_from=refill_from,
    )


def _launch(
    name: str,
    checked: ForDevice,
    massager: Massager,
    clock: Clock,
    limits: Limits,
    history: History | None,
    **session_options: Any,
) -> Launch:
    """The massager under a supervisor, and the session on top: the same for simulation and hardware."""
    supervisor = Supervisor(massager, limits, clock)
    label = name.removesuffix(".toml").split("/")[-1]
    program = checked.source.program
    session = Session(
        program,
        label,
        supervisor,
        clock,
        history=history,
        adaptations=checked.changes,
        bounds_mmHg=zone_bounds_mmHg(history, session_options.get("user", "default")),
        **session_options,
    )
    return Launch(checked.source, label, supervisor, session, clock, checked.changes)


def _prepare_hardware(
    name: str,
    source: ProgramSource,
    port: str,
    *,
    limits: Limits,
    history: History | None,
    user: str,
    profile: str,
    subject: str,
    posture: Posture,
    fixed_rest: bool,
    refill_from: RefillFrom,
    reset_device: bool,
) -> Launch:
    """A real-time session on the massager at `port`: its profile is the one the device reports,
    and the engine steps the leg twin from the sensed cell pressures (no simulated limb). A device
    latched in its safe state by its own fault is refused unless `reset_device`: a session on it
    would deliver nothing."""
    from legflow.device.wire.serial_massager import DeviceLatched, SerialMassager

    massager = SerialMassager(port)
    try:
        device = massager.profile
        if profile not in (DEFAULT_PROFILE, device.name):
            raise UsageError(f"--profile {profile}, but the device on {port} is a '{device.name}'")
        checked = for_device(source, device, limits)
        try:
            massager.make_ready(reset_latched=reset_device)  # last: reset only a device it will run
        except DeviceLatched as exc:
            raise DeviceError(f"{exc}: add --reset-device to reset it") from None
        return _launch(
            name,
            checked,
            massager,
            RealClock(),
            limits,
            history,
            twin=leg_twin(device, subject, posture),
            cost=intensity_cost(checked.source.program, device, subject, posture),
            user=user,
            drive_twin=True,
            adaptive_rest=not fixed_rest,
            refill_from=refill_from,
        )
    except BaseException:
        massager.close()
        raise
