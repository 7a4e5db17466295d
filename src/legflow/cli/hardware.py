"""`legflow emulate`: the simulated massager behind a pseudo-terminal, for running and testing the
host side of real hardware (`legflow run PROGRAM --device PORT`) without a device."""

from __future__ import annotations

import signal

from rich.console import Console

from legflow.apps.launch import check_faults
from legflow.apps.limb import leg_twin
from legflow.cli.text import printable
from legflow.clock import RealClock
from legflow.device.faults import FaultSpec
from legflow.device.profile import load_profile
from legflow.device.wire.emulator import Emulator
from legflow.device.wire.framing import PROTOCOL_VERSION
from legflow.twin.model import Posture


def emulate(
    profile: str, inject: list[str], seed: int, rate_hz: int, subject: str, posture: Posture, err: Console
) -> None:
    """Print the port on stdout (alone on its line, for scripts), then serve it until Ctrl-C or
    SIGTERM; what the device does goes to stderr with the time since start."""
    device = load_profile(profile)
    faults = [FaultSpec.parse(text) for text in inject]
    check_faults(faults, device.cell_names(), device.legs)
    clock = RealClock()
    start_s = clock.now()

    def log(line: str) -> None:
        text = printable(f"{clock.now() - start_s:9.3f} s  {line}")  # what the host sent, shown as text
        err.print(text, highlight=False, markup=False, soft_wrap=True)

    emulator = Emulator(
        device,
        faults=faults,
        seed=seed,
        limb=leg_twin(device, subject, posture),
        sensor_rate_hz=rate_hz,
        clock=clock,
        log=log,
    )
    port = emulator.open()
    print(port, flush=True)
    injected = f"; faults {', '.join(map(str, faults))} (seconds from the first hello)" if faults else ""
    say = lambda text: err.print(printable(text), highlight=False, markup=False, soft_wrap=True)  # noqa: E731
    say(
        f"emulating a '{device.name}' massager on {port}: protocol v{PROTOCOL_VERSION}, {rate_hz} Hz "
        f"sensors, watchdog {emulator.heartbeat_timeout_s * 1000:.0f} ms{injected}"
    )
    say(f"connect with: legflow run PROGRAM --device {port}   (Ctrl-C stops)")
    stop = lambda signum, frame: emulator.request_stop()  # noqa: E731
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        emulator.serve()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        emulator.close()
    say(f"stopped: {emulator.report()}")
