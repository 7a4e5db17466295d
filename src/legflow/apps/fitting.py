"""The fit check as a user runs it (`legflow fit`): on the simulated massager with the leg twin
inside its cells, under the supervisor with this user's limits, judged against this user's own
baseline for the device, and kept in the history so the baseline learns."""

from __future__ import annotations

from legflow.apps.launch import Launch, check_faults
from legflow.apps.limb import leg_twin
from legflow.clock import VirtualClock
from legflow.device.faults import FaultSpec
from legflow.device.profile import load_profile
from legflow.device.sim import SimulatedMassager
from legflow.engine.fit import FitResult, fit_check
from legflow.safety.limits import DEFAULT_LIMITS, Limits
from legflow.safety.supervisor import Supervisor
from legflow.store import History
from legflow.twin.model import Posture


def run_fit(
    profile: str,
    user: str,
    limits: Limits,
    history: History,
    *,
    inject: list[str] | None = None,
    seed: int = 0,
    subject: str = "adult",
    posture: Posture = "supine",
) -> FitResult:
    """One fit check of every cell of the device on the simulated massager (a virtual clock: the
    check takes ~6 s a cell there, no wall time here); ``inject``: faults or how the garment is worn
    (``garment_loose:left.calf@0``, `legflow.device.faults.FIT_KINDS`). Stored when it ran whole."""
    spec = load_profile(profile)
    faults = [FaultSpec.parse(text) for text in inject or []]
    check_faults(faults, spec.cell_names(), spec.legs)
    clock = VirtualClock()
    massager = SimulatedMassager(spec, clock, faults=faults, seed=seed, limb=leg_twin(spec, subject, posture))
    supervisor = Supervisor(massager, limits, clock)
    try:
        result = fit_check(supervisor, clock, history.fit_baseline(user, profile))
    finally:
        supervisor.close()
    _keep(result, history, user, profile)
    return result


def fit_before_session(
    launch: Launch,
    user: str,
    history: History,
    *,
    inject: list[str],
    seed: int,
    subject: str,
    posture: Posture,
    simulated: bool,
) -> FitResult:
    """The fit check before a session: on hardware, on the massager the session will run (through
    its supervisor); in simulation, on a simulated massager like the session's (the same profile,
    seed and legs) wearing the garment as the session starts: with the faults injected at its
    first second (a garment worn loose, a hole), not those due later in the session."""
    profile = launch.supervisor.profile.name
    if simulated:
        present = [text for text in inject if FaultSpec.parse(text).at_s < 1.0]
        limits = launch.supervisor.limits
        return run_fit(
            profile, user, limits, history, inject=present, seed=seed, subject=subject, posture=posture
        )
    result = fit_check(launch.supervisor, launch.clock, history.fit_baseline(user, profile))
    _keep(result, history, user, profile)
    return result


def _keep(result: FitResult, history: History, user: str, profile: str) -> None:
    """A fit that ran whole teaches the user's baseline (`History.fit_baseline`)."""
    if result.stopped is None:
        history.add_fit(user, profile, [(c.cell, c.verdict, c.fill_mL, c.kept) for c in result.cells])


#: How a garment can be worn in `fit_worn`, and the verdict the fit check owes each.
WORN = {"sound": "ok", "garment_loose": "loose", "garment_tight": "tight", "leak": "leaking"}


def fit_worn(profile: str, worn: str, seed: int, subject: str = "adult") -> tuple[FitResult, set[str]]:
    """A fit check on the simulated massager with the garment worn as ``worn`` (`WORN`) on the
    right leg: strapped loose or tight, or with a 1.2 mm hole in one of its cells (by seed), under
    the default limits; the result and the cells worn so (the harness of the fit's tests and of
    ``python -m benchmarks.fit_check``)."""
    device = load_profile(profile)
    right = [c for c in device.cell_names() if c.startswith("right.")]
    faults, bad = [], set()
    if worn in ("garment_loose", "garment_tight"):
        faults, bad = [FaultSpec(worn, 0.0, "right")], set(right)
    elif worn == "leak":
        cell = right[seed % len(right)]
        faults, bad = [FaultSpec("leak", 0.0, cell)], {cell}
    clock = VirtualClock()
    massager = SimulatedMassager(device, clock, faults=faults, seed=seed, limb=leg_twin(device, subject))
    return fit_check(Supervisor(massager, DEFAULT_LIMITS, clock), clock), bad
