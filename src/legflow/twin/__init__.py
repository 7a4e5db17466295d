"""The leg twin: a lumped physiological model of one leg under external compression (DESIGN.md).

Packages kept apart (after PyBaMM): cited parameter sets (:mod:`.subject`, ``parameters/*.toml``),
the equations (:mod:`.model`), the integrator (:mod:`.solver`), protocols (:mod:`.protocol`),
metrics (:mod:`.metrics`) and published cases (:mod:`.validate`). Never imports device, engine,
cli or safety.
"""

from legflow.twin.subject import Subject, TwinParameterError, available_subjects, load_subject

__all__ = ["Subject", "TwinParameterError", "available_subjects", "load_subject"]
