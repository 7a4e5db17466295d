"""Temporary: validate every built-in program against the reference profile and default limits."""
from legflow.device import load_profile
from legflow.errors import ProgramError
from legflow.plan import check_source
from legflow.programs.library import builtin_names, builtin_source
from legflow.safety import DEFAULT_LIMITS

bad = 0
for name in builtin_names():
    try:
        s = builtin_source(name)
        check_source(s, load_profile("reference"), DEFAULT_LIMITS)
        print("ok  ", name, f"{s.program.duration_s/60:g} min")
    except ProgramError as e:
        bad += 1
        print(e)
raise SystemExit(1 if bad else 0)
