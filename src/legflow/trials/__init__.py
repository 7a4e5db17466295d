"""Virtual trials of programs on sampled cohorts of the leg twin, and the program optimiser.

Modules: :mod:`.cohorts` (priors with sources, ``cohorts.toml``), :mod:`.chunks` (a program as a
tissue-pressure schedule, the metrics of one chunk of subjects), :mod:`.trial` (programs over a
cohort → per-subject metrics, summaries with bootstrap CIs), :mod:`.backends` (local or Ray),
:mod:`.optimise` (CMA-ES over compression parameters inside the limits), :mod:`.report` (figures
and the report file). Never imports engine, cli or web: a program's tissue pressures come from
:mod:`legflow.plan.dose_schedule`. Twin predictions are model outputs, never clinical evidence.
"""
