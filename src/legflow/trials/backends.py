"""Where a trial's chunks run: this machine, or a Ray cluster.

Both backends run the same chunks through the same function (:func:`.chunks.run_chunk`) and put the
results back in chunk order, so a trial gives identical numbers on either for the same seed.

- ``local``: chunks one after another in this process; each chunk is one batch of legs through the
  compiled solver, which spreads the legs over this machine's cores (numba threads).
- ``ray``: each chunk is a Ray task (``num_cpus`` per task, numba limited to as many threads), on a
  cluster reached with ``ray.init(address=...)``: ``None`` starts a local one-machine cluster,
  ``"auto"`` joins the cluster this machine belongs to (``ray start --head`` / ``ray start
  --address=HEAD:6379`` on each node), ``"ray://HEAD:10001"`` connects through Ray Client.
  Every node needs the same legflow installed. Ray is imported only when this backend is chosen.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from legflow.errors import LegflowError
from legflow.trials.chunks import Backend, Progress, Schedule, run_chunk
from legflow.trials.cohorts import VirtualSubject

BACKENDS = ("local", "ray")


class BackendError(LegflowError):
    """A backend that is unknown, not installed or unreachable."""


class LocalBackend:
    """Chunks in this process, one after another; each is a batch over all cores."""

    name = "local"

    def run(
        self,
        schedules: Sequence[Schedule],
        chunks: Sequence[Sequence[VirtualSubject]],
        rtol: float,
        progress: Progress | None = None,
    ) -> np.ndarray:
        total, done, parts = sum(len(c) for c in chunks), 0, []
        for chunk in chunks:
            parts.append(run_chunk(schedules, chunk, rtol))
            done += len(chunk)
            if progress is not None:
                progress(done, total)
        return np.concatenate(parts, axis=1)

    def close(self) -> None:
        """Nothing to release (the same interface as :class:`RayBackend`)."""


def _chunk_task(schedules: Sequence[Schedule], chunk: Sequence[VirtualSubject], rtol: float, threads: int):
    """A chunk inside a Ray worker, with numba held to the CPUs Ray gave the task."""
    import numba

    # (numba.config sets NUMBA_NUM_THREADS from the environment at import: its stubs do not declare it)
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]
    return run_chunk(schedules, chunk, rtol)


class RayBackend:
    """Chunks as Ray tasks (see the module docstring for ``address``)."""

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None, cpus_per_task: int = 1):
        try:
            import ray
        except ModuleNotFoundError as exc:
            raise BackendError("the ray backend needs Ray: pip install 'ray>=2.9'") from exc
        self._ray: Any = ray
        self.cpus_per_task = cpus_per_task
        self._owns = not ray.is_initialized()
        if self._owns:
            try:
                ray.init(address=address, num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
            except ConnectionError as exc:
                raise BackendError(f"cannot reach a Ray cluster at {address!r}: {exc}") from exc
        self._task = ray.remote(num_cpus=cpus_per_task)(_chunk_task)

    @property
    def cluster_cpus(self) -> int:
        return int(self._ray.cluster_resources().get("CPU", 0))

    def run(
        self,
        schedules: Sequence[Schedule],
        chunks: Sequence[Sequence[VirtualSubject]],
        rtol: float,
        progress: Progress | None = None,
    ) -> np.ndarray:
        ray = self._ray
        shared = ray.put(list(schedules))  # once in the object store, not once per task
        pending = {
            self._task.remote(shared, list(chunk), rtol, self.cpus_per_task): k
            for k, chunk in enumerate(chunks)
        }
        results: list[np.ndarray | None] = [None] * len(chunks)
        total, done = sum(len(c) for c in chunks), 0
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                k = pending.pop(ref)
                results[k] = ray.get(ref)
                done += len(chunks[k])
                if progress is not None:
                    progress(done, total)
        return np.concatenate(results, axis=1)  # type: ignore[arg-type]

    def close(self) -> None:
        """Shut Ray down if this backend started it."""
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()


def make_backend(name: str, address: str | None = None) -> Backend:
    """A backend by name; ``address`` only for ray."""
    if name == "local":
        if address is not None:
            raise BackendError("--address is for the ray backend")
        return LocalBackend()
    if name == "ray":
        return RayBackend(address=address)
    raise BackendError(f"unknown backend '{name}' (one of: {', '.join(BACKENDS)})")
