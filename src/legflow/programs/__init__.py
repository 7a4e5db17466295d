"""Programs: the v1 format (pydantic), the TOML loader with FILE:LINE errors, the built-in library
and the timeline (a program as a function of time)."""

from legflow.programs.loader import dump_program, load_program, parse_program
from legflow.programs.model import GOALS, Compression, GuideStep, Heat, Phase, Program, Rollers, Vibration

__all__ = [
    "GOALS",
    "Compression",
    "GuideStep",
    "Heat",
    "Phase",
    "Program",
    "Rollers",
    "Vibration",
    "dump_program",
    "load_program",
    "parse_program",
]
