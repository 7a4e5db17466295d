"""The leg twin inside a session: both legs advanced step by step under the cells' pressures.

The simulated massager steps it with the true cell pressures and gives each cell back the volume
change of the limb under it; on hardware the engine steps it with the sensed pressures. Either way
the same object yields the live signals, the per-second history samples and the metrics of the
summary's ``twin`` block (``metrics.program_metrics`` of the recorded trace).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numba import njit

from legflow.twin.metrics import compression_cycles, leg_metrics, program_metrics
from legflow.twin.model import FLUID, N_SEG, OBS_OUTFLOW, VEIN, Posture, pack
from legflow.twin.solver import Trace, observe, step_in_place
from legflow.twin.subject import COMPARTMENT_NAMES, Subject, legs_label

#: The cells' pressures are held constant over this step (cycles last seconds; veins empty in ~4 s).
TWIN_STEP_s = 0.1
#: Error tolerance of the twin inside a session: its metrics stay within 1 % of those at 1e-6
#: (tests/test_twin_live.py), at a third of the cost.
SESSION_RTOL = 1e-4


class LiveTwin:
    """One subject's legs under a device's cells, advanced one ``TWIN_STEP_s`` at a time."""

    def __init__(
        self,
        subject: Subject | Sequence[Subject],
        cell_covers: Sequence[Mapping[Any, float]],
        cell_leg: Sequence[int],
        posture: Posture = "supine",
    ):
        """``subject``: one parameter set for every leg, or one per leg (`load_legs`);
        ``cell_covers[i]``: the fraction of each segment (``foot``, ``calf``, ``thigh``) that cell
        ``i`` covers (a device profile's ``covers``); ``cell_leg[i]``: the index of its leg."""
        self.posture = posture
        self.step_s = TWIN_STEP_s
        self.rtol = SESSION_RTOL
        self.cell_leg = np.asarray(cell_leg, dtype=np.int64)
        self.n_legs = int(self.cell_leg.max()) + 1 if len(self.cell_leg) else 1
        self.subjects = [subject] * self.n_legs if isinstance(subject, Subject) else list(subject)
        if len(self.subjects) != self.n_legs:
            raise ValueError(f"{len(self.subjects)} parameter sets for {self.n_legs} legs")
        self.covers = np.array([[c.get(s, 0.0) for s in COMPARTMENT_NAMES] for c in cell_covers]).reshape(
            -1, N_SEG
        )
        packed = [pack(leg, posture) for leg in self.subjects]
        # limb volume change under each cell = cover @ segment volume changes [leg·3 + segment];
        # tissue pressure [leg·3 + segment] = transmit @ cell pressures
        self._cover = np.zeros((len(self.cell_leg), self.n_legs * N_SEG))
        for cell, leg in enumerate(self.cell_leg):
            self._cover[cell, leg * N_SEG : (leg + 1) * N_SEG] = self.covers[cell]
        # tissue pressure / cell pressure through skin and fat: each leg's own (cited) ratio
        ratio = [leg.circulation.pressure_transmission_ratio for leg in self.subjects]
        self._transmit = np.repeat(ratio, N_SEG)[:, None] * self._cover.T
        self.params = np.array([params for params, _ in packed])
        self.state = np.array([rest for _, rest in packed])
        self.rest_segment_mL = self._segment_mL(self.state)
        self.rest_venous_mL = self.venous_volume_mL()
        self.t_s = 0.0
        self._states = [self.state.copy()]
        self._external: list[np.ndarray] = []

    @property
    def subject_name(self) -> str:
        """The parameter set's name, or each leg's (``adult,oedema``) where they differ."""
        return legs_label(self.subjects)

    # -- stepping ----------------------------------------------------------------------------
    def tissue_pressures(self, cell_mmHg: np.ndarray) -> np.ndarray:
        """Pressure on each leg's foot, calf and thigh tissue [n_legs, 3] from the cell pressures."""
        out = np.empty((self.n_legs, N_SEG))
        _tissue_pressures(self._transmit, np.asarray(cell_mmHg, dtype=np.float64), out.reshape(-1))
        return out

    def step(self, cell_mmHg: np.ndarray) -> None:
        """Advance one ``TWIN_STEP_s`` with these cell pressures held."""
        external = self.tissue_pressures(cell_mmHg)
        step_in_place(self.params, self.state, external, TWIN_STEP_s, self.rtol)
        self.t_s += TWIN_STEP_s
        self._states.append(self.state.copy())
        self._external.append(external)

    # -- what the massager and the engine read -----------------------------------------------
    def limb_volume_change_mL(self) -> np.ndarray:
        """How much the limb under each cell has grown (+) or emptied (−) since rest [n_cells]."""
        out = np.empty(len(self.cell_leg))
        _volume_under_cells(self._cover, self.state, self.rest_segment_mL.reshape(-1), out)
        return out

    def venous_volume_mL(self) -> np.ndarray:
        """Venous volume of each whole leg now [n_legs]."""
        return self.state[:, VEIN : VEIN + N_SEG].sum(axis=1)

    def signals(self) -> dict[str, list[float]]:
        """The live picture per leg: outflow to the abdomen, venous volume moved, fluid cleared."""
        external = self._external[-1] if self._external else np.zeros((self.n_legs, N_SEG))
        outflow = observe(self.state[None], external[None], self.params)[0, :, OBS_OUTFLOW]
        rest = self._states[0]
        return {
            "outflow_mL_per_min": _rounded(outflow * 60.0),
            "venous_change_mL": _rounded(self.venous_volume_mL() - rest[:, VEIN : VEIN + N_SEG].sum(axis=1)),
            "fluid_cleared_mL": _rounded(_fluid_mL(rest) - _fluid_mL(self.state)),
        }

    def trace(self) -> Trace:
        """Everything so far as a trace (the metrics count low standby pressures as released)."""
        states = np.array(self._states)
        external = np.array(
            [*self._external, self._external[-1]] if self._external else [np.zeros((self.n_legs, N_SEG))]
        )
        return Trace(
            t_s=np.arange(len(states)) * TWIN_STEP_s,
            states=states,
            external_mmHg=external,
            observed=observe(states, external, self.params),
            params=self.params,
            tissue_volume_mL=np.array(
                [[s.tissue_volume_mL for s in leg.compartments] for leg in self.subjects]
            ),
        )

    def metrics(self) -> dict[str, Any] | None:
        """What the session summary's ``twin`` block reports of the trace so far
        (``metrics.program_metrics``, and the blood ejected per minute per squeezed leg when a leg
        was squeezed); None with under three steps, too short to measure."""
        if len(self._states) < 3:
            return None
        trace = self.trace()
        metrics: dict[str, Any] = program_metrics(trace)
        per_leg = leg_metrics(trace, [leg.name for leg in self.subjects])
        squeezed_legs = sum(1 for leg in range(self.n_legs) if compression_cycles(trace, leg))
        if metrics["ejected_mL_per_cycle"] is not None and squeezed_legs:
            each = metrics["ejected_mL_per_cycle"] * metrics["cycles"] / squeezed_legs
            metrics["ejected_mL_per_min"] = round(each / (self.t_s / 60.0), 1)
        if per_leg is not None:
            metrics["legs"] = per_leg
        return metrics

    @staticmethod
    def _segment_mL(state: np.ndarray) -> np.ndarray:
        """Venous plus interstitial excess volume per segment [n_legs, 3]: what a cuff feels."""
        return state[:, VEIN : VEIN + N_SEG] + state[:, FLUID : FLUID + N_SEG]


def _fluid_mL(state: np.ndarray) -> np.ndarray:
    return state[:, FLUID : FLUID + N_SEG].sum(axis=1)


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 2) for v in values]


@njit(cache=True)
def _tissue_pressures(transmit, cell_mmHg, out):
    """out[leg·3 + segment] = transmit @ cell pressures (a cell below zero presses nothing)."""
    for k in range(transmit.shape[0]):
        total = 0.0
        for c in range(transmit.shape[1]):
            if cell_mmHg[c] > 0.0:
                total += transmit[k, c] * cell_mmHg[c]
        out[k] = total


@njit(cache=True)
def _volume_under_cells(cover, state, rest_segment_mL, out):
    """out[cell] = cover @ (venous + interstitial excess volume per segment − at rest)."""
    for c in range(cover.shape[0]):
        total = 0.0
        for k in range(cover.shape[1]):
            if cover[c, k] != 0.0:
                leg, seg = divmod(k, N_SEG)
                grown = state[leg, VEIN + seg] + state[leg, FLUID + seg] - rest_segment_mL[k]
                total += cover[c, k] * grown
        out[c] = total
