"""Run notebooks headless with papermill, several notebooks per kernel, on a few workers.

A fresh kernel costs seconds (start-up and imports of polars, altair, ipywidgets, ...) and each kernel
process logs in to Connect anew, which the token endpoint allows only 3 times a minute (burst 20). So a
:class:`KernelPool` starts one kernel per worker and runs a day's notebooks in it one after the other,
the way one scheduled run would. Before each notebook the kernel's namespace is emptied (``%reset``)
and its execution count set back to 1, so a notebook sees nothing of the one before (imported modules
stay loaded: that is the saving). The shared kernel reaches papermill as an engine (``shared-kernel``),
papermill's own extension point, and every parameter goes in the usual way.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from queue import Queue
from typing import IO, Any

__all__ = ["KernelPool", "NotebookRun", "RunResult", "kernel_pool"]

ENGINE = "shared-kernel"
KERNEL = "python3"
_FRESH = "%reset -f\nget_ipython().execution_count = 1"  # run silently: no output, no history
_log = logging.getLogger("papermill")


@dataclass(frozen=True)
class NotebookRun:
    """One headless execution: which notebook, where the executed copy goes, with which parameters."""

    notebook: Path
    output: Path
    parameters: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""


@dataclass(frozen=True)
class RunResult:
    """How a run ended: ``error`` is None, or the exception's name and message (``ename``/``evalue``)."""

    run: NotebookRun
    seconds: float
    error: tuple[str, str] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _register_engine() -> None:
    from papermill.engines import NBClientEngine, papermill_engines

    class SharedKernelEngine(NBClientEngine):  # type: ignore[misc]  # papermill calls it with our ``km``
        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man: Any,
            kernel_name: str,
            *,
            km: Any,
            log_output: bool = False,
            start_timeout: int = 60,
            execution_timeout: float | None = None,
            **_: Any,
        ) -> Any:
            from papermill.clientwrap import PapermillNotebookClient

            client = PapermillNotebookClient(
                nb_man,
                km=km,
                kernel_name=kernel_name,
                log=_log,
                timeout=execution_timeout,
                startup_timeout=start_timeout,
                log_output=log_output,
            )

            async def fresh(**_: Any) -> None:  # nbclient's hook, once its client is ready
                reply = await client.kc.execute_interactive(
                    _FRESH, silent=True, store_history=False, timeout=60
                )
                if reply["content"]["status"] != "ok":
                    msg = f"could not reset the kernel: {reply['content'].get('evalue', '')}"
                    raise RuntimeError(msg)

            client.on_notebook_start = fresh
            try:
                return client.execute()
            finally:  # the kernel is ours and lives on; its client for this notebook does not
                if client.kc is not None:
                    client.kc.stop_channels()

    papermill_engines.register(ENGINE, SharedKernelEngine)


# ipykernel warns that its ZeroMQ sockets are unencrypted TCP. jupyter_client binds them to 127.0.0.1, so
# the traffic never leaves this machine, and IPC sockets are not supported everywhere the demo runs (some
# containers refuse them). Only that one line is dropped from the kernel's stderr; the rest is relayed.
_TCP_WARNING = b"Kernel is running over TCP without encryption"


def _relay(stream: IO[bytes]) -> None:
    """Copy a kernel's stderr to ours, line by line, without the loopback TCP warning."""
    for line in iter(stream.readline, b""):
        if _TCP_WARNING not in line:
            sys.stderr.write(line.decode(errors="replace"))
            sys.stderr.flush()


class _Kernel:
    """One kernel process, started and stopped on the thread that uses it (its event loop)."""

    def __init__(self, cwd: Path, *, attempts: int = 3) -> None:
        from jupyter_core.utils import run_sync

        self._run_sync = run_sync
        for attempt in range(1, attempts + 1):
            try:
                self.km = run_sync(self._start)(cwd)
                break
            except RuntimeError:  # "Kernel died before replying to kernel_info"
                if attempt == attempts:
                    raise
                _log.info("kernel died while starting (a port taken meanwhile?); starting it again")
        process = getattr(self.km.provisioner, "process", None)
        if process is not None and process.stderr is not None:
            threading.Thread(target=_relay, args=(process.stderr,), daemon=True).start()

    @staticmethod
    async def _start(cwd: Path) -> Any:
        """A started kernel that answered kernel_info. The ports a kernel manager picks are free when
        picked but bound by the kernel later, so another process may take one meanwhile and the kernel
        dies; each attempt gets a new manager, hence new ports."""
        from jupyter_client.manager import AsyncKernelManager

        km = AsyncKernelManager(kernel_name=KERNEL)
        await km.start_kernel(cwd=str(cwd), stderr=subprocess.PIPE)
        client = km.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=120)
        except RuntimeError:
            await km.shutdown_kernel(now=True)
            raise
        finally:
            client.stop_channels()
        return km

    def execute(self, run: NotebookRun, timeout: float) -> RunResult:
        import papermill
        from papermill.exceptions import PapermillExecutionError

        start = time.monotonic()
        run.output.parent.mkdir(parents=True, exist_ok=True)
        try:
            papermill.execute_notebook(
                str(run.notebook),
                str(run.output),
                parameters=dict(run.parameters),
                kernel_name=KERNEL,
                language="python",
                engine_name=ENGINE,
                km=self.km,
                progress_bar=False,
                execution_timeout=timeout,
            )
        except PapermillExecutionError as exc:
            return RunResult(run, time.monotonic() - start, (exc.ename, exc.evalue))
        except Exception as exc:
            detail = "".join(traceback.format_exception_only(exc)).strip()
            return RunResult(run, time.monotonic() - start, (type(exc).__name__, detail))
        return RunResult(run, time.monotonic() - start)

    def stop(self) -> None:
        self._run_sync(self.km.shutdown_kernel)(now=False)


class KernelPool:
    """``workers`` threads, each owning one kernel; ``map`` runs chains of notebooks side by side."""

    def __init__(self, *, workers: int, cwd: Path, timeout: float) -> None:
        self.workers, self._cwd, self._timeout = workers, cwd, timeout
        self._tasks: Queue[tuple[tuple[NotebookRun, ...], Future[list[RunResult]]] | None] = Queue()
        self._threads = [
            threading.Thread(target=self._work, name=f"demo-kernel-{i}", daemon=True) for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def map(
        self,
        chains: Sequence[Sequence[NotebookRun]],
        on_done: Callable[[list[RunResult]], None] | None = None,
    ) -> list[list[RunResult]]:
        """Run each chain's notebooks in order in one kernel, chains side by side; keep their order."""
        futures: list[Future[list[RunResult]]] = []
        for chain in chains:
            future: Future[list[RunResult]] = Future()
            if on_done is not None:
                future.add_done_callback(lambda f: on_done(f.result()))
            self._tasks.put((tuple(chain), future))
            futures.append(future)
        return [f.result() for f in futures]

    def _work(self) -> None:
        kernel: _Kernel | None = None
        try:
            kernel = self._start()  # at once: the kernels of all workers start side by side
            while (task := self._tasks.get()) is not None:
                chain, future = task
                results = []
                for run in chain:
                    try:
                        kernel = kernel or _Kernel(self._cwd)  # on this thread (its event loop)
                        results.append(kernel.execute(run, self._timeout))
                    except BaseException as exc:
                        results.append(RunResult(run, 0.0, (type(exc).__name__, str(exc))))
                future.set_result(results)
        finally:
            if kernel is not None:
                kernel.stop()

    def _start(self) -> _Kernel | None:
        try:
            return _Kernel(self._cwd)
        except Exception:
            return None

    def close(self) -> None:
        """Stop the workers and their kernels (each on the thread that started it)."""
        for _ in self._threads:
            self._tasks.put(None)
        for thread in self._threads:
            thread.join()


@contextmanager
def kernel_pool(*, workers: int, cwd: Path, timeout: float = 900.0) -> Iterator[KernelPool]:
    """A :class:`KernelPool` whose kernels are stopped when the block ends, whatever happened."""
    _register_engine()
    pool = KernelPool(workers=max(1, workers), cwd=cwd, timeout=timeout)
    try:
        yield pool
    finally:
        pool.close()
