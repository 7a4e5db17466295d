"""Sessions over the wire: `legflow run --device` against the emulator on a real pseudo-terminal,
the device's own failsafe when the host dies (SIGKILL) mid-session, the firmware's answers to
bad requests, reconnection, and the one-line errors a user sees."""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import serial

from cli_helpers import run_cli
from legflow.apps.limb import leg_twin
from legflow.device.faults import FaultSpec
from legflow.device.massager import Commands, HEARTBEAT_TIMEOUT_s
from legflow.device.profile import load_profile
from legflow.device.wire import messages as m
from legflow.device.wire.emulator import Emulator
from legflow.device.wire.framing import FrameParser, cobs_encode, pack_frame
from legflow.device.wire.serial_massager import SerialMassager
from legflow.errors import DeviceError, ProfileError
from legflow.store import default_history

#: Real processes, servers, browsers or terminals: left out of the fast subset (README, testing).
pytestmark = pytest.mark.system

SHORT = """
[program]
name = "Wire test"
goal = "circulation"
summary = "One sequential squeeze of calf and thigh, over the wire."
legs = "both"

[[phase]]
name = "squeeze"
duration_min = 0.2
  [phase.compression]
  pattern = "sequential"
  zones = ["calf", "thigh"]
  pressure_mmHg = 40
  inflate_s = 2.0
  delay_s = 0.5
  hold_s = 3.0
  release_s = 2.0
  rest_s = 2.0
"""
#: How many times the kill test kills a host (LEGFLOW_KILLS=10 for a report).
KILLS = int(os.environ.get("LEGFLOW_KILLS", "2"))
#: How late the emulator's watchdog thread may run on a loaded test machine (its GIL and lock
#: shared with the host under test); real firmware's loop has no such wait.
EMULATOR_LATE_s = 0.03


@pytest.fixture
def cli(capsys, monkeypatch):
    return lambda *args: run_cli(capsys, monkeypatch, *args)


@pytest.fixture
def program(tmp_path) -> Path:
    path = tmp_path / "wire-test.toml"
    path.write_text(SHORT, encoding="utf-8")
    return path


@pytest.fixture
def emulator(request):
    """An emulator of the reference massager (a leg inside) serving a pty from a thread;
    ``@pytest.mark.parametrize("emulator", [{...}], indirect=True)`` passes its options."""
    profile = load_profile()
    options = {"limb": leg_twin(profile), **getattr(request, "param", {})}
    em = Emulator(profile, **options)
    em.start()
    yield em
    em.stop()


def wait_for(condition, timeout_s: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


# --- sessions -------------------------------------------------------------------------------------
def test_a_session_runs_over_a_real_pty_with_supervisor_twin_and_history(cli, program, emulator):
    result = cli("run", str(program), "--device", emulator.port, "--no-fit", "--json")
    summary = json.loads(result.out)
    assert result.code == 0 and summary["status"] == "completed" and summary["faults"] == []
    assert summary["duration_s"] == 12.0
    for cell, peak in summary["cells"].items():
        if cell.split(".")[1] in ("calf", "thigh"):
            assert 36.0 <= peak["max_pressure_mmHg"] <= 46.0, cell
        else:
            assert peak["max_pressure_mmHg"] < 5.0, cell
    twin = summary["twin"]  # driven by the pressures the device sensed
    assert twin["cycles"] >= 1 and twin["ejected_mL_per_cycle"] > 20
    history = default_history()
    row = history.session(summary["id"])
    assert row.status == "completed" and row.profile == "reference" and len(history.samples(row.id)) >= 10
    # 50 Hz of commands for 12 s; a clean link; the host vented the device at the end
    assert emulator.commands_heard >= 0.9 * 12 * 50
    counters = emulator.parser.counters
    assert counters.rejected == 0 and counters.seq_gaps == 0 and counters.bad_message == 0
    assert [v.reason for v in emulator.vents] == ["host_request"]


@pytest.mark.parametrize(
    "emulator", [{"faults": [FaultSpec.parse("sensor_stuck:left.calf@1.5")]}], indirect=True
)
def test_a_fault_injected_on_the_device_is_caught_by_the_host_supervisor(cli, program, emulator):
    result = cli("run", str(program), "--device", emulator.port, "--no-fit", "--json")
    summary = json.loads(result.out)
    assert result.code == 4 and summary["status"] == "fault"
    (fault,) = summary["faults"]  # the host injected nothing: the fault is named by its detector
    assert (
        fault["kind"] == "sensor_stuck"
        and fault["detector"] == "frozen_sensor"
        and fault["cell"] == "left.calf"
    )
    assert 1.0 <= fault["detected_s"] < 3.0 and fault["safe_at_s"] - fault["detected_s"] < 0.1
    wait_for(lambda: emulator.vents != [], timeout_s=2, what="the vent")
    # the host's fault latches the device as its own would: the next session needs a user's reset
    assert emulator.vents[0].reason == "host_fault" and emulator.vents[0].where == "left.calf"
    refused = cli("run", str(program), "--device", emulator.port, "--no-fit")
    assert refused.code == 1, refused.err
    said = "a host's supervisor found a fault at left.calf and asked for the safe state"
    assert f"is latched in its safe state ({said}; relay opened at device time" in refused.err


@pytest.mark.parametrize(
    "emulator", [{"faults": [FaultSpec.parse("heater_runaway:left@1.5")]}], indirect=True
)
def test_a_shorted_heater_on_the_device_is_seen_by_its_current_over_the_wire(cli, program, emulator):
    """The program asks no heat, so a heater drawing current is a shorted switch: the SENSORS
    heater-current tail carries it, and the host trips within a fraction of a second."""
    result = cli("run", str(program), "--device", emulator.port, "--no-fit", "--json")
    summary = json.loads(result.out)
    assert result.code == 4 and summary["status"] == "fault"
    (fault,) = summary["faults"]
    assert (
        fault["kind"] == "heater_runaway"
        and fault["detector"] == "thermal_runaway"
        and fault["cell"] == "left"
    )
    assert 1.5 <= fault["detected_s"] < 2.5


def _start_host(port: str, home: Path) -> subprocess.Popen:
    env = {**os.environ, "LEGFLOW_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-m", "legflow", "run", "circulation", "--device", port, "--no-fit", "--json"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip


def test_the_device_vents_within_500_ms_of_the_host_being_killed(tmp_path, emulator):
    delays_s = []
    for kill in range(KILLS):
        host = _start_host(emulator.port, tmp_path)
        try:
            armed_at = emulator.commands_heard
            wait_for(lambda: emulator.commands_heard >= armed_at + 150 and emulator.armed, what="commands")  # noqa: B023
            sim = emulator.sim
            with emulator.lock:
                assert sim is not None and not sim.relay_open and float(sim.true_pressure_mmHg.max()) > 5.0
            host.send_signal(signal.SIGKILL)
            killed_s = time.monotonic()
            host.wait(timeout=10)
            wait_for(lambda: len(emulator.vents) > kill, timeout_s=2.0, what="the vent")  # noqa: B023
        finally:
            host.kill()
            host.wait()
        vent = emulator.vents[kill]
        assert vent.reason == "heartbeat_lost" and vent.silence_s is not None
        assert vent.silence_s <= HEARTBEAT_TIMEOUT_s + EMULATOR_LATE_s
        delays_s.append(vent.t_s - killed_s)
        with emulator.lock:
            assert sim.relay_open
        wait_for(lambda: _peak_mmHg(emulator) < 5.0, timeout_s=3.0, what="the cells to empty")
        emulator.press_reset()  # a user's reset before the next host
    print(f"\nvent after host kill over {KILLS} kills: median {statistics.median(delays_s) * 1000:.1f} ms, "
          f"max {max(delays_s) * 1000:.1f} ms")  # fmt: skip
    assert max(delays_s) <= HEARTBEAT_TIMEOUT_s + EMULATOR_LATE_s


def _peak_mmHg(emulator: Emulator) -> float:
    with emulator.lock:
        assert emulator.sim is not None
        return float(emulator.sim.true_pressure_mmHg.max())


# --- the firmware's answers ---------------------------------------------------------------------
class RawHost:
    """Frames by hand, for what the driver never sends."""

    def __init__(self, port: str):
        self.port = serial.Serial(port, timeout=0.05)
        self.tx, self.parser = m.Sequencer(), FrameParser()
        self.pending: list = []  # read, not yet looked at (a FAULT right behind its CAPABILITIES)

    def send(self, message) -> int:
        seq, data = self.tx.frame(message)
        self.port.write(data)
        return seq

    def expect(self, kind: type, timeout_s: float = 2.0, where=lambda message: True):
        """The next message of this kind (that satisfies `where`), skipping others."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.pending:
                self.pending = [m.decode(frame) for frame in self.parser.feed(self.port.read(256))]
            while self.pending:
                message = self.pending.pop(0)
                if isinstance(message, kind) and where(message):
                    return message
        raise AssertionError(f"no {kind.__name__}")


def _command(heartbeat: int, n_legs: int = 2, n_cells: int = 10) -> m.Command:
    idle = Commands.idle(n_legs, n_cells)
    return m.Command.from_arrays(heartbeat, idle.inlet_open, idle.exhaust_open, idle.pump_duty,
                                 idle.heater_power, idle.roller_speed, idle.vibration_level)  # fmt: skip


def test_the_firmware_refuses_bad_requests_and_keeps_its_watchdog(emulator):
    host = RawHost(emulator.port)
    seq = host.send(_command(1))
    assert host.expect(m.Nack) == m.Nack(seq, m.MsgType.COMMAND, m.NackReason.NOT_READY)
    host.send(m.Hello(1, 50))
    caps = host.expect(m.Capabilities)
    assert caps.profile == "reference" and caps.sensor_rate_hz == 50 and caps.heartbeat_timeout_ms == 500
    assert host.expect(m.SensorSample).pressure_mmHg.__len__() == 10
    seq = host.send(_command(2, n_cells=8))
    assert host.expect(m.Nack) == m.Nack(seq, m.MsgType.COMMAND, m.NackReason.WRONG_SHAPE)
    damaged = bytearray(pack_frame(m.MsgType.HEARTBEAT, 99, m.Heartbeat(99).pack()))
    damaged[-1] ^= 0xFF
    host.port.write(cobs_encode(bytes(damaged)) + b"\x00")  # a bad CRC is dropped, counted, not answered
    wait_for(lambda: emulator.parser.counters.bad_crc == 1, timeout_s=2, what="the bad CRC to be counted")
    host.send(_command(3))
    for beat in range(4, 14):  # heartbeats alone keep the device running
        time.sleep(0.1)
        host.send(m.Heartbeat(beat))
    assert emulator.vents == [] and emulator.armed
    host.expect(m.SensorSample, where=lambda sample: sample.heartbeat_heard == 13)
    quiet_from = time.monotonic()
    fault = host.expect(m.Fault, timeout_s=1.0)
    late_ms = EMULATOR_LATE_s * 1000
    assert fault.code == m.FaultCode.HEARTBEAT_LOST and 400 <= fault.value <= 500 + late_ms
    # the FAULT frame reaches the host within a serial read timeout (0.05 s) after the watchdog
    assert time.monotonic() - quiet_from < HEARTBEAT_TIMEOUT_s + EMULATOR_LATE_s + 0.05 + 0.1
    host.expect(m.SensorSample, where=lambda sample: sample.relay_open and not sample.armed)
    seq = host.send(m.Reset())
    assert host.expect(m.Ack) == m.Ack(seq, m.MsgType.RESET)
    host.expect(m.SensorSample, where=lambda sample: not sample.relay_open)
    host.port.close()


def test_the_driver_reconnects_when_its_port_fails(emulator):
    massager = SerialMassager(emulator.port)
    try:
        before = massager.read().seq
        massager._serial.close()  # the port fails under the reader (a cable pulled)
        wait_for(lambda: massager.stats.reconnects == 1, timeout_s=5, what="the reconnection")
        wait_for(lambda: massager.read().seq > before + 20, timeout_s=2, what="samples after reconnecting")
        assert emulator.hellos == 2
    finally:
        massager.close()


def test_the_driver_reconnects_when_closing_its_failed_port_fails_too(emulator, monkeypatch):
    """A port whose descriptor is gone fails its reads and its close alike (EBADF, as when another
    thread closed it first): the reader must drop it and reconnect, not die with the close."""
    massager = SerialMassager(emulator.port)
    try:
        failed = massager._serial

        def close_fails() -> None:
            raise OSError(9, "Bad file descriptor")

        monkeypatch.setattr(failed, "close", close_fails)
        os.close(failed.fd)  # the descriptor goes away under the reader
        wait_for(lambda: massager.stats.reconnects == 1, timeout_s=5, what="the reconnection")
        assert emulator.hellos == 2
    finally:
        massager.close()


def test_legflow_emulate_prints_its_port_serves_it_and_stops_on_sigterm(tmp_path):
    env = {**os.environ, "LEGFLOW_HOME": str(tmp_path)}
    command = [sys.executable, "-m", "legflow", "emulate", "--profile", "calf-sleeve", "--inject", "leak@30"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        port = proc.stdout.readline().strip()
        assert port.startswith("/dev/")
        massager = SerialMassager(port)
        assert massager.profile.name == "calf-sleeve" and massager.capabilities.trip_mmHg == (110.0,) * 4
        massager.close()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == 0 and "Traceback" not in err
    assert "faults leak@30 (seconds from the first hello)" in err
    assert "stopped: 1 hellos, 0 commands" in err and "vents: host_request" in err


def test_a_bad_fault_for_the_emulator_is_one_line(cli):
    result = cli("emulate", "--inject", "leak:left.elbow@3")
    assert result.code == 1 and "no cell or leg 'left.elbow'" in result.err
    assert len(result.err.strip().splitlines()) == 1


# --- errors a user sees ---------------------------------------------------------------------------
def test_a_missing_port_is_one_line(cli, program):
    result = cli("run", str(program), "--device", "/dev/legflow-nothing-here")
    assert (
        result.code == 1
        and result.err.strip() == "error: cannot open /dev/legflow-nothing-here: no such port"
    )


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--fast"], "--fast runs on a virtual clock"),
        (["--inject", "leak@3"], "--inject changes the simulated"),
    ],
)
def test_simulator_options_with_a_device_are_usage_errors(cli, program, extra, message):
    result = cli("run", str(program), "--device", "/dev/null", *extra)
    assert result.code == 2 and message in result.err and len(result.err.strip().splitlines()) == 1


def test_a_profile_other_than_the_devices_is_a_usage_error(cli, program, emulator):
    result = cli("run", str(program), "--device", emulator.port, "--no-fit", "--profile", "calf-sleeve")
    assert result.code == 2
    assert f"--profile calf-sleeve, but the device on {emulator.port} is a 'reference'" in result.err
    assert emulator.commands_heard == 0 and [v.reason for v in emulator.vents] == ["host_request"]


def test_a_silent_port_times_out_with_a_clear_error():
    master, slave = os.openpty()
    try:
        with pytest.raises(
            DeviceError, match=r"no answer from /dev/pts/\d+ within 0.3 s: is a legflow device"
        ):
            SerialMassager(os.ttyname(slave), timeout_s=0.3)
    finally:
        os.close(master)
        os.close(slave)


@pytest.mark.parametrize("emulator", [{"version": 2}], indirect=True)
def test_another_protocol_version_is_named(emulator):
    with pytest.raises(DeviceError, match=r"speaks protocol v2; this legflow speaks v1"):
        SerialMassager(emulator.port, timeout_s=2)


def test_an_unknown_or_mismatched_profile_is_refused():
    reference = load_profile()
    for profile, error, message in [
        (
            reference.model_copy(update={"name": "mystery-boots"}),
            ProfileError,
            "reports profile 'mystery-boots'",
        ),
        (reference.model_copy(update={"vibration_max_level": 3}), DeviceError, "vibration up to level 3"),
    ]:
        em = Emulator(profile)
        em.start()
        try:
            with pytest.raises(error, match=message):
                SerialMassager(em.port, timeout_s=2)
        finally:
            em.stop()


# --- the device's own safe state ------------------------------------------------------------------
#: How many times the freeze test stops a host for a second (LEGFLOW_FREEZES=10 for a report).
FREEZES = int(os.environ.get("LEGFLOW_FREEZES", "1"))


@pytest.fixture
def quick(tmp_path) -> Path:
    """The wire test program cut to 6 s: the calf and thigh cells still reach 40 mmHg."""
    path = tmp_path / "wire-quick.toml"
    path.write_text(SHORT.replace("duration_min = 0.2", "duration_min = 0.1"), encoding="utf-8")
    return path


def _peaks(summary: dict) -> dict[str, float]:
    return {cell: peak["max_pressure_mmHg"] for cell, peak in summary["cells"].items()}


def _inflated(summary: dict) -> bool:
    """The calf and thigh cells reached their 40 mmHg setpoint and no other cell filled."""
    squeezed = ("calf", "thigh")
    return all(
        36.0 <= p <= 46.0 if cell.split(".")[1] in squeezed else p < 5.0
        for cell, p in _peaks(summary).items()
    )


def test_a_host_frozen_for_a_second_ends_its_session_as_the_devices_watchdog_fault(emulator):
    """SIGSTOP the host for 1 s: the device vents on its watchdog and says so; once the host runs
    again its session ends as a `device` fault naming the watchdog, and history stores it so."""
    resumed_to_end_s = []
    for _ in range(FREEZES):
        host = subprocess.Popen(
            [sys.executable, "-m", "legflow", "run", "circulation", "--device", emulator.port, "--no-fit",
             "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            armed_at = emulator.commands_heard
            running = lambda: emulator.commands_heard >= armed_at + 150 and emulator.armed  # noqa: B023, E731
            wait_for(lambda: running() or host.poll() is not None, what="commands")  # noqa: B023
            assert host.poll() is None, "the host ended before the freeze: " + "".join(host.communicate())
            host.send_signal(signal.SIGSTOP)
            time.sleep(1.0)
            host.send_signal(signal.SIGCONT)
            resumed_s = time.monotonic()
            out, err = host.communicate(timeout=10)
            resumed_to_end_s.append(time.monotonic() - resumed_s)
        finally:
            host.kill()
            host.wait()
        assert host.returncode == 4 and "Traceback" not in err, err
        vent = emulator.vents[-1]
        assert vent.reason == "heartbeat_lost"
        summary = json.loads(out)
        assert summary["status"] == "fault"
        (fault,) = summary["faults"]
        assert fault["kind"] == "device" and fault["detector"] == "device", fault
        assert re.match(r"watchdog: no heartbeat for \d+ ms; relay opened at device time", fault["message"])
        history = default_history()
        try:
            assert history.session(summary["id"]).status == "fault"
            events = [e["detail"] for e in history.events(summary["id"]) if e["kind"] == "fault"]
            assert len(events) == 1 and "watchdog: no heartbeat" in events[0]
        finally:
            history.close()
        emulator.press_reset()  # a user's reset before the next host
    median_ms, max_ms = statistics.median(resumed_to_end_s) * 1000, max(resumed_to_end_s) * 1000
    print(f"\nsession end after the host resumed, over {FREEZES} freezes: median {median_ms:.0f} ms, "
          f"max {max_ms:.0f} ms")  # fmt: skip
    assert max(resumed_to_end_s) <= 2.0


def _latch_by_watchdog(emulator: Emulator) -> m.Fault:
    """A host that sends one command and goes quiet: the device's watchdog opens its relay."""
    host = RawHost(emulator.port)
    try:
        host.send(m.Hello(1, 100))
        host.expect(m.Capabilities)
        host.send(_command(1))
        fault = host.expect(m.Fault, timeout_s=1.5)
    finally:
        host.port.close()
    assert fault.code == m.FaultCode.HEARTBEAT_LOST and emulator.safe
    return fault


def test_a_device_latched_by_its_own_fault_is_refused_until_the_user_resets_it(cli, quick, emulator):
    _latch_by_watchdog(emulator)
    refused = cli("run", str(quick), "--device", emulator.port, "--no-fit")
    assert refused.code == 1 and len(refused.err.strip().splitlines()) == 1, refused.err
    said = r"\(watchdog: no heartbeat for \d+ ms; relay opened at device time [\d.]+ s\)"
    assert re.match(rf"error: the device on {emulator.port} is latched in its safe state {said}", refused.err)
    assert refused.err.rstrip().endswith("add --reset-device to reset it")
    assert emulator.safe and emulator.commands_heard == 1  # nothing sent but a HELLO and the SAFE
    history = default_history()
    try:
        assert history.sessions() == []  # a refused session is no session
    finally:
        history.close()

    result = cli("run", str(quick), "--device", emulator.port, "--no-fit", "--reset-device", "--json")
    summary = json.loads(result.out)
    assert result.code == 0 and summary["status"] == "completed" and summary["faults"] == []
    assert _inflated(summary), _peaks(summary)
    assert [v.reason for v in emulator.vents] == ["heartbeat_lost", "host_request"]


def test_a_device_resting_after_a_session_starts_the_next_one_without_a_reset(cli, quick, emulator):
    """The safe state the last host asked for (SAFE at its end) is no fault of the device: the
    next session resets it by itself and inflates."""
    SerialMassager(emulator.port).close()  # a host that connects and leaves: SAFE
    assert emulator.safe and [v.reason for v in emulator.vents] == ["host_request"]
    result = cli("run", str(quick), "--device", emulator.port, "--no-fit", "--json")
    summary = json.loads(result.out)
    assert result.code == 0 and summary["status"] == "completed" and _inflated(summary), _peaks(summary)


def test_the_device_says_why_it_is_latched_to_every_hello(emulator):
    fault = _latch_by_watchdog(emulator)
    host = RawHost(emulator.port)
    try:
        host.send(m.Hello(1, 100))
        host.expect(m.Capabilities)
        assert host.expect(m.Fault, timeout_s=0.5) == fault  # the same FAULT again, for a new host
        sample = host.expect(m.SensorSample)
        assert sample.relay_open and not sample.safe_requested
        host.send(m.Reset())
        host.expect(m.SensorSample, where=lambda s: not s.relay_open and not s.safe_requested)
        host.send(m.Safe())
        host.expect(m.SensorSample, where=lambda s: s.relay_open and s.safe_requested)
    finally:
        host.port.close()
    massager = SerialMassager(emulator.port)  # the driver sees a resting device, not a latched one
    try:
        sensors = massager.read()
        assert sensors.relay_open and sensors.device_fault is None
        massager.make_ready()
        assert not massager.read().relay_open
    finally:
        massager.close()


def _trip_when_inflating(emulator: Emulator, kind: str) -> threading.Thread:
    """Feed the firmware's own trip path a reading over its limit once the session is filling
    (the host's tighter limits keep the real physics below the firmware's, so this is the way to
    reach them with a working host)."""

    def trip() -> None:
        wait_for(lambda: emulator.commands_heard >= 100 and emulator.armed, what="the session")
        with emulator.lock:
            pressure = np.zeros(len(emulator.profile.cell_names()))
            skin = np.full(len(emulator.profile.legs), 33.0)
            if kind == "over_pressure":
                pressure[2] = emulator.profile.cells[2].max_pressure_mmHg + 15.0  # left.calf
            elif kind == "over_temperature":
                assert emulator.profile.heater_max_C is not None
                skin[1] = emulator.profile.heater_max_C + 2.5  # the right leg
            emulator._trips(emulator.clock.now(), pressure, skin, relay_open=kind == "pressure_switch")

    thread = threading.Thread(target=trip, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize(
    "kind, says, where",
    [
        ("over_pressure", "over-pressure trip: 115.0 mmHg at left.calf", "left.calf"),
        ("over_temperature", "over-temperature trip: 44.5 °C at the right leg", "right"),
        ("pressure_switch", "pressure switch: the hardware switch opened the relay", None),
    ],
)
def test_the_devices_own_trips_end_the_session_as_a_device_fault(cli, program, emulator, kind, says, where):
    trip = _trip_when_inflating(emulator, kind)
    result = cli("run", str(program), "--device", emulator.port, "--no-fit")
    trip.join(timeout=5)
    assert result.code == 4 and emulator.vents[0].reason == kind
    assert "SAFE STATE: device fault: " in result.out  # the live display's header
    assert f"the device says: {says}; relay opened at device time" in result.out
    history = default_history()
    try:
        (row,) = history.sessions()
        assert row.status == "fault" and row.summary is not None
        (fault,) = row.summary["faults"]
        assert fault["kind"] == "device" and fault["message"].startswith(says)
        assert fault["cell"] == where  # the cell, or the leg of a heater, as the host's detectors name it
        assert 1.5 < fault["detected_s"] < 3.0  # within a tick of the trip, not at the end (12 s)
    finally:
        history.close()
