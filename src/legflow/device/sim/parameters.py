"""Physical parameters of the simulated massager, with units in the names and where each comes from.

Values are "typical of" a class of part (no single datasheet is claimed). The cell volumes come
from the device profile (`CellSpec.volume_mL`); everything here scales with them or is per leg.
The simulator turns the dataclass into the SI records the numba kernel reads (`physics.CELL`,
`physics.LEG`, `physics.CONSTANTS`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Standard atmosphere, Pa.
ATMOSPHERE_Pa = 101_325.0
#: 1 mmHg in Pa.
MMHG_Pa = 133.322
#: Density of air at 20 °C and 1 atm, kg/m³ (any fluid-mechanics textbook table).
AIR_DENSITY_kg_per_m3 = 1.204


@dataclass(frozen=True)
class SimParameters:
    """Every physical constant of the simulator. Each leg has one pump, manifold, heater and motors."""

    # --- pump (one per leg) ---------------------------------------------------------------------
    #: (The pump's pressure-flow curve, free flow and shut-off, is device data: the profile's.)
    #: Motor spin-up/down time constant. Typical of small brushed pump motors (tens of ms); a
    #: diaphragm pump working against pressure stops within a stroke or two once unpowered.
    pump_spinup_s: float = 0.025
    #: Current at free flow and at shut-off. Typical 12 V diaphragm pumps draw ~0.5-1 A open and
    #: ~1.5-2 A against a closed outlet.
    pump_free_current_A: float = 0.8
    pump_shutoff_current_A: float = 1.8
    #: Gas volume after the pump: pump head, manifold block, short tubes. Typical of a compact
    #: manifold with ~4 mm bore tubing (a few tens of mL).
    manifold_volume_mL: float = 15.0
    #: Back-leak of the manifold through the pump's reed check valves (equivalent hole). Typical of
    #: diaphragm pumps: a dead-headed manifold sags over seconds once the pump stops.
    manifold_leak_diameter_mm: float = 0.15

    # --- valves (per cell) ----------------------------------------------------------------------
    #: 2/2 solenoid valves: inlet normally closed, exhaust normally open. Orifices typical of 12 V
    #: miniature air solenoid valves used in air-compression garments (about 2-4 mm).
    inlet_orifice_diameter_mm: float = 4.0
    exhaust_orifice_diameter_mm: float = 3.5
    #: Discharge coefficient of a sharp-edged orifice (textbook value ~0.6-0.65).
    orifice_discharge_coefficient: float = 0.62
    #: Below this pressure drop an orifice is treated as laminar (linear): keeps Q(Δp) smooth at 0.
    orifice_linear_below_mmHg: float = 0.15
    #: Stroke time of the plunger. Typical of miniature solenoid valves (10-20 ms).
    valve_switching_s: float = 0.015

    # --- cells ------------------------------------------------------------------------------------
    #: Gas volume of a cell as a function of gauge pressure p, as fractions of `volume_mL`:
    #:   V(p) = residual + conform * (1 - exp(-p / conform_pressure)) + tissue * p - limb change
    #: The deflated bladder still holds `residual`; the first few mmHg take up the slack until the
    #: bladder conforms to the limb; beyond that the limb itself yields (tissue compliance of the
    #: order of calf venous compliance by plethysmography, ~0.1 mL per 100 mL tissue per mmHg).
    cell_residual_fraction: float = 0.10
    cell_conform_fraction: float = 0.60
    cell_conform_pressure_mmHg: float = 6.0
    cell_tissue_fraction_per_mmHg: float = 0.002
    #: Tube and connector dead volume: the least gas volume a cell ever has.
    cell_dead_volume_mL: float = 5.0
    #: Seams and fittings of a sound bladder (equivalent hole): a few mmHg per minute at 60 mmHg,
    #: typical of welded TPU bladders.
    cell_leak_diameter_mm: float = 0.05
    #: `leak` fault: a hole in the bladder (a pin-prick to a split seam).
    fault_leak_diameter_mm: float = 1.2
    #: `kinked_tube` fault: the kink leaves this fraction of the valve orifice area (series orifice).
    fault_kink_area_fraction: float = 0.02
    #: `garment_off` fault: the bladder no longer wraps a limb, so it balloons freely: slack and
    #: compliance grow by these factors (pressure barely rises for the same gas).
    garment_off_conform_factor: float = 4.0
    garment_off_conform_pressure_factor: float = 2.0
    garment_off_tissue_factor: float = 10.0
    #: `garment_loose` and `garment_tight` (the fit check's conditions): a strap a notch or two too
    #: loose leaves the bladder more slack to take up before it presses the limb, one too tight
    #: leaves it little (it presses already, deflated). Assumed values, no datasheet: the slack of
    #: a calf bladder (0.6 of its volume, above) about doubled, or cut to a third.
    garment_loose_conform_factor: float = 1.8
    garment_tight_conform_factor: float = 0.35

    # --- pressure sensors (per cell and per manifold) ---------------------------------------------
    #: Typical of 0-40 kPa piezoresistive gauge sensors with an RC filter and a 12-bit ADC.
    pressure_noise_sd_mmHg: float = 0.25
    pressure_offset_sd_mmHg: float = 0.5
    pressure_lag_s: float = 0.005
    pressure_lsb_mmHg: float = 300.0 / 4096
    pressure_range_mmHg: tuple[float, float] = (-20.0, 400.0)
    #: `sensor_drift` fault: the offset ramps downward (reads low: the dangerous direction).
    fault_drift_mmHg_per_s: float = -1.0

    # --- heater pad (per leg) ---------------------------------------------------------------------
    #: Typical of 12 V heated massager pads (5-15 W); sized so the pad surface nears 45 °C at full
    #: power and the skin under it stays near 41 °C.
    heater_power_W: float = 6.5
    #: Pad (wire, silicone, cover): ~100 g at ~1.5 J/(g K).
    pad_heat_capacity_J_per_K: float = 150.0
    #: Skin and subcutaneous layer under the pad: ~100 cm² x 1 cm of tissue at ~3.5 J/(g K).
    skin_heat_capacity_J_per_K: float = 350.0
    #: Contact conductance pad -> skin over ~100 cm² (textile contact, ~100 W/(m² K)).
    pad_to_skin_W_per_K: float = 1.0
    #: Pad -> room through the insulated outer shell.
    pad_to_ambient_W_per_K: float = 0.15
    #: Skin -> body core by conduction and blood perfusion (resting skin blood flow).
    skin_to_core_W_per_K: float = 0.6
    ambient_C: float = 22.0
    core_C: float = 37.0
    #: NTC thermistor in the pad against the skin.
    temp_noise_sd_C: float = 0.05
    temp_offset_sd_C: float = 0.2
    temp_lag_s: float = 2.0
    temp_lsb_C: float = 0.1

    # --- motors (per leg): roller gear motor and vibration (eccentric mass) motor ------------------
    #: DC motor: I = (V - k w) / R, J dw/dt = k I - b w - load. Typical of 12 V brushed motors
    #: behind the gearbox of massage rollers: ~3 A stall, ~0.5 A running free.
    motor_supply_V: float = 12.0
    roller_resistance_ohm: float = 4.0
    roller_k_V_s_per_rad: float = 0.02
    roller_friction_N_m_s_per_rad: float = 2e-5
    roller_inertia_kg_m2: float = 1e-5
    #: Load of a foot resting on the rollers, referred to the motor shaft (through the gearbox).
    roller_load_N_m: float = 0.005
    #: Typical of 12 V eccentric-rotating-mass vibration motors: ~1 A stall, ~0.2 A running.
    vibration_resistance_ohm: float = 12.0
    vibration_k_V_s_per_rad: float = 0.01
    vibration_friction_N_m_s_per_rad: float = 3e-6
    vibration_inertia_kg_m2: float = 2e-6
    vibration_load_N_m: float = 0.001
    current_noise_sd_A: float = 0.01
    current_lsb_A: float = 0.01

    # --- numerics ---------------------------------------------------------------------------------
    #: The device's own over-pressure trip above each cell's rating: firmware that vents by itself,
    #: whatever the host says (as the over-pressure alarms of hospital compression pumps).
    trip_margin_mmHg: float = 10.0

    # --- numerics ---------------------------------------------------------------------------------
    #: Fixed substep of the kernel. The pneumatics are integrated by linearised backward Euler
    #: (unconditionally stable); the substep only has to resolve the valve stroke.
    substep_s: float = 0.002
    #: A leg whose valves have settled, with its pump stopped and its vented cells near zero, only
    #: holds or rests: its pneumatics take each host call in one step (tests/test_sim.py checks this
    #: against fine substeps everywhere).
    quiet_legs_one_step: bool = True

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if isinstance(value, float) and name not in {"fault_drift_mmHg_per_s"} and value < 0:
                raise ValueError(f"{name} must not be negative (got {value})")
        if self.substep_s <= 0 or self.valve_switching_s <= 0:
            raise ValueError("substep_s and valve_switching_s must be positive")


def orifice_area_m2(diameter_mm: float, cd: float) -> float:
    """Effective area Cd·A of a round orifice."""
    d_m = diameter_mm * 1e-3
    return cd * np.pi * d_m * d_m / 4.0
