"""What `legflow run` shows before a session starts: a spinner on stderr from the first moment
(stdout stays clean for ``--json``) while the program is checked and the session's kernels are
compiled, naming what numba compiles and for how long.

A first run after an install or an upgrade compiles the simulator, the safety supervisor, the
controllers and the leg twin (seconds to tens of seconds); later runs load them from numba's cache
and the spinner is gone within a second. Where stderr is no terminal nothing is drawn: a line says
when compiling starts and one when it is done, so a log shows where the time went.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from legflow.clock import wall_s

#: What a compiling kernel belongs to, by the start of its module's name.
PARTS = {
    "legflow.device.sim": "the simulated massager",
    "legflow.safety": "the safety checks",
    "legflow.engine": "the pressure controller",
    "legflow.twin": "the leg twin",
}


@contextmanager
def preparing(console: Console, simulated: bool) -> Iterator[Callable[[str, str], None]]:
    """Show a spinner on ``console`` for the block; yields the ``on_compile`` to hand `warm_up`,
    which names each part as numba compiles it."""
    what = "the simulator and safety checks" if simulated else "the safety checks"
    started = wall_s()
    compiled: list[str] = []
    spinner = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with spinner if console.is_terminal else nullcontext():
        task = spinner.add_task(f"preparing {what}…")

        def on_compile(module: str, _name: str) -> None:
            if not compiled and not console.is_terminal:
                console.print(f"preparing {what} (first run only: compiling)…", highlight=False)
            compiled.append(module)
            # (numba's own helpers compile inside a kernel of ours: the part shown stays)
            part = next((label for prefix, label in PARTS.items() if module.startswith(prefix)), None)
            if part is not None:
                spinner.update(task, description=f"preparing {what} (first run only): compiling {part}")

        yield on_compile
    if compiled:
        seconds = wall_s() - started
        console.print(f"compiled {what} in {seconds:.0f} s (once: later runs load them)", highlight=False)
