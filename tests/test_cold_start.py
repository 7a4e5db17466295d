"""A first session after an install or an upgrade: numba's cache is empty and every kernel compiles.
The launcher compiles them all before a session's first command, so on hardware the device's
heartbeat watchdog never sees the host stall, and `legflow run` says what it is doing meanwhile."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from legflow.apps.limb import leg_twin
from legflow.apps.warmup import rehearse
from legflow.cli.warmup import preparing
from legflow.device.profile import load_profile
from legflow.device.wire.emulator import Emulator

SHORT = """
[program]
name = "Cold start"
goal = "circulation"
summary = "One sequential squeeze of calf and thigh, with heat."
legs = "both"

[[phase]]
name = "squeeze"
duration_min = 0.15
  [phase.compression]
  pattern = "sequential"
  zones = ["calf", "thigh"]
  pressure_mmHg = 40
  inflate_s = 2.0
  delay_s = 0.5
  hold_s = 2.0
  release_s = 2.0
  rest_s = 1.0
  [phase.heat]
  target_C = 38.0
"""

#: `legflow run ...` in a process of its own that counts what numba compiles once the session's
#: loop has started (printed to stderr at exit): a complete warm-up leaves nothing.
PROBE = """
import atexit, sys
from numba.core import event
from legflow.engine.session import Session
from legflow.cli.app import main
late = []
running = Session.run
def run(self, *args, **kwargs):
    if self.program_label != "warm-up":  # the session asked for, not the launcher's rehearsal
        late.append("started")
    return running(self, *args, **kwargs)
Session.run = run
class Late(event.Listener):
    def on_start(self, ev):
        if late:
            late.append(ev.data["dispatcher"].py_func.__qualname__)
    def on_end(self, ev):
        pass
event.register("numba:compile", Late())
atexit.register(lambda: print(f"compiled during the session: {late[1:]}", file=sys.stderr))
sys.argv = ["legflow", *sys.argv[1:]]
main()
"""


#: In a process of its own (numba's cache as it is): the simulated warm-up, then a short session on
#: every device profile under several limits; prints the kernels that gained a signature (loaded or
#: compiled) after the warm-up: argument types the rehearsal did not cover.
EVERY_PROFILE = """
import sys
from numba.core.registry import CPUDispatcher
from legflow.clock import VirtualClock
from legflow.device.profile import load_profile, profile_names
from legflow.apps.limb import leg_twin
from legflow.apps.warmup import warm_up
from legflow.device.sim import SimulatedMassager
from legflow.engine.session import Session
from legflow.programs.loader import validate_text
from legflow.safety.limits import DEFAULT_LIMITS
from legflow.safety.supervisor import Supervisor

def signatures():
    found = {}
    for name, module in list(sys.modules.items()):
        if name.startswith("legflow."):
            for attr, value in vars(module).items():
                if isinstance(value, CPUDispatcher):
                    found[f"{name}.{attr}"] = set(value.signatures)
    return found

def program(profile):
    zones = [z for z in profile.zones if z in ("foot", "ankle", "calf", "knee", "thigh")][:2]
    lines = [
        "[program]", 'name = "Every profile"', 'goal = "custom"', 'summary = "Every actuator."',
        'legs = "both"',
        "[[phase]]", 'name = "all"', "duration_min = 0.3", "[phase.compression]", 'pattern = "sequential"',
        f"zones = {zones}", "pressure_mmHg = 50", "inflate_s = 2.0", "delay_s = 0.5", "hold_s = 4.0",
        "release_s = 2.0", "rest_s = 2.0",
    ]
    if profile.rollers is not None:
        zone = profile.rollers.zones[0]
        lines += ["[phase.rollers]", f'zones = ["{zone}"]', 'speed = "fast"', 'depth = "deep"']
    if profile.vibration_max_level > 0:
        lines += ["[phase.vibration]", "level = 3"]
    if profile.heater_max_C is not None:
        lines += ["[phase.heat]", "target_C = 40.0"]
    return validate_text("\\n".join(lines)).program

warm_up(simulated=True)
before = signatures()
screened = DEFAULT_LIMITS.tighten("test", leg_pressure_mmHg=40.0, foot_pressure_mmHg=40.0, heat_C=None,
                                  vibration_allowed=False, deep_rollers_allowed=False)
blocked = DEFAULT_LIMITS.tighten("test", blocked_zones={"calf", "foot"}, rollers_allowed=False)
for name in profile_names():
    profile = load_profile(name)
    for limits in (DEFAULT_LIMITS, screened, blocked):
        clock = VirtualClock()
        twin = leg_twin(profile)
        supervisor = Supervisor(SimulatedMassager(profile, clock, limb=twin), limits, clock)
        summary = Session(program(profile), name, supervisor, clock, twin=twin).run(on_update=lambda s: None)
        assert summary["status"] == "completed", (name, summary["faults"])
after = signatures()
new = {k: v - before.get(k, set()) for k, v in after.items()}
print(sorted(f"{k} {sorted(map(str, v))}" for k, v in new.items() if v))
"""


def cold_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """`legflow run ARGS --json` in a new process with an empty numba cache (a fresh install)."""
    cache = tmp_path / "numba-cache"
    cache.mkdir()
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "LEGFLOW_HOME": str(tmp_path / "home")}
    return subprocess.run(
        [sys.executable, "-c", PROBE, "run", *args, "--json"], env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip


@pytest.fixture
def program(tmp_path) -> Path:
    path = tmp_path / "cold-start.toml"
    path.write_text(SHORT, encoding="utf-8")
    return path


@pytest.fixture
def emulator():
    """The reference massager with a leg inside, behind a pty, in this process (its cache is warm)."""
    profile = load_profile()
    em = Emulator(profile, limb=leg_twin(profile))
    em.start()
    yield em
    em.stop()


@pytest.mark.slow
def test_a_first_session_on_hardware_keeps_the_device_watchdog_fed(tmp_path, program, emulator):
    done = cold_run(tmp_path, str(program), "--device", emulator.port)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["status"] == "completed" and summary["faults"] == []
    # the host vented the device at the end; its watchdog never opened the relay
    assert [v.reason for v in emulator.vents] == ["host_request"]
    assert "preparing the safety checks (first run only: compiling)…" in done.stderr
    assert "compiled during the session: []" in done.stderr


@pytest.mark.slow
def test_a_first_simulated_session_compiles_nothing_once_it_runs(tmp_path, program):
    done = cold_run(tmp_path, str(program), "--fast")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "completed"  # stdout holds only the JSON
    assert "preparing the simulator and safety checks (first run only: compiling)…" in done.stderr
    assert "compiled during the session: []" in done.stderr


def test_the_spinner_names_what_compiles_and_says_when_it_is_done():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with preparing(console, simulated=True) as on_compile:
        on_compile("legflow.safety.detectors", "check_cells")
    shown = out.getvalue()
    assert "preparing the simulator and safety checks (first run only): compiling the safety checks" in shown
    assert "compiled the simulator and safety checks in 0 s (once: later runs load them)" in shown


def test_a_warm_start_leaves_nothing_on_a_log():
    out = io.StringIO()
    with preparing(Console(file=out, force_terminal=False), simulated=False):
        pass
    assert out.getvalue() == ""


@pytest.mark.slow
def test_the_warm_up_covers_every_device_profile_and_limit():
    """Argument types that vary with the device or the user's limits would compile at a session's
    first ticks: no kernel may gain one after the warm-up."""
    done = subprocess.run([sys.executable, "-c", EVERY_PROFILE], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("simulated", [True, False], ids=["simulated", "hardware"])
def test_the_rehearsal_runs_a_whole_session(simulated):
    """A rehearsal that ended early, on a fault, would leave the kernels of its later ticks (the
    twin's steps, the final vent, the summary) for the real session to compile."""
    summary = rehearse(simulated)
    assert summary["status"] == "completed" and summary["faults"] == [] and summary["duration_s"] == 3.0
    assert max(cell["max_pressure_mmHg"] for cell in summary["cells"].values()) > 25.0  # filled and held
