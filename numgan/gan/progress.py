"""Training progress: a bar with iterations/s and the losses, wherever training runs.

    with TrainingProgress(total, trainer.iteration) as progress:
        while trainer.iteration < total:
            trainer.step()
            progress.update(trainer)

Where the output goes decides the form:

- a Jupyter notebook (``file`` not given): tqdm's widget;
- a terminal: tqdm's bar, redrawn in place about ten times a second;
- anything else (a log file, a pipe): a plain line about ten times per run, so that a log
  holds whole lines rather than carriage-return redraws.

``update`` is called after every iteration, and a toy run does thousands of iterations a
second, so it does almost nothing: it compares the iteration with the next one due, and
only then reads the history and formats the postfix.  In a terminal the stride between
redraws follows the measured rate (about ``INTERVAL`` seconds of iterations).
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

INTERVAL = 0.1  # seconds between redraws of a bar
LOG_LINES = 10  # plain lines per run in a log


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed file
        return False


def _in_notebook() -> bool:
    """Whether tqdm.auto chose its notebook widget (a Jupyter kernel with ipywidgets)."""
    if not any(m in sys.modules for m in ("ipykernel", "IPython.utils._process_emscripten")):
        return False  # no kernel: spare the import of tqdm.auto (and asyncio)
    import tqdm.auto  # noqa: F401  (imports tqdm.autonotebook without its warning)
    from tqdm.autonotebook import tqdm as chosen
    from tqdm.std import tqdm as std_tqdm

    return chosen is not std_tqdm


def postfix(history: dict[str, list[float]]) -> str:
    """The last iteration's losses and mean D outputs, for the bar's postfix."""
    if not history.get("d_loss"):
        return ""
    return (
        f"D loss {history['d_loss'][-1]:.3f}, G loss {history['g_loss'][-1]:.3f}, "
        f"D(x) {history['d_real'][-1]:.3f}, D(G(z)) {history['d_fake'][-1]:.3f}"
    )


class TrainingProgress:
    """Progress of iterations ``initial`` to ``total``, read from a trainer after each one.

    total:    the iteration the run will stop at (not the number still to run)
    initial:  the iteration it starts from (a resumed run's)
    file:     where to write (default: stderr, or the notebook widget in Jupyter)

    ``update(trainer)`` reads ``trainer.iteration`` and the last entries of
    ``trainer.history`` ("d_loss", "g_loss", "d_real", "d_fake").  ``close()`` (or leaving
    the ``with`` block) draws the last state and ends the bar's line.
    """

    def __init__(self, total: int, initial: int = 0, *, file: IO[str] | None = None) -> None:
        self.total, self.initial = int(total), int(initial)
        self.file = sys.stderr if file is None else file
        self._trainer: Any = None
        self._shown = self.initial  # the iteration last drawn
        self._closed = False
        self._bar = None
        if (file is None and _in_notebook()) or _isatty(self.file):
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=self.total,
                initial=self.initial,
                file=self.file,
                unit="it",
                dynamic_ncols=True,
                mininterval=0,  # update() decides when to draw; tqdm draws when told
                miniters=1,
            )
            self._due = self.initial + 1
            self._start = self._time = time.perf_counter()
        else:
            self._every = max(1, (self.total - self.initial) // LOG_LINES)
            self._due = self.initial + self._every
            self._start = self._time = time.perf_counter()

    def update(self, trainer: Any) -> None:
        """Call after each iteration; draws only when a redraw (or a log line) is due."""
        self._trainer = trainer
        if trainer.iteration < self._due and trainer.iteration < self.total:
            return
        self._draw(trainer)

    def _draw(self, trainer: Any) -> None:
        done = trainer.iteration
        if self._bar is not None:
            now = time.perf_counter()
            rate = (done - self._shown) / max(now - self._time, 1e-9)
            self._time = now
            self._due = done + max(1, int(rate * INTERVAL))
            self._bar.set_postfix_str(postfix(trainer.history), refresh=False)
            if done > self._bar.n:
                self._bar.update(done - self._bar.n)
            else:
                self._bar.refresh()
        else:
            from tqdm.std import tqdm

            now = time.perf_counter()
            self._due = done + self._every
            line = tqdm.format_meter(
                done,
                self.total,
                now - self._start,
                ascii=True,
                # since the last line: the first iterations' JIT compilation would
                # otherwise weigh on the rate, and the time left, all run long
                rate=(done - self._shown) / max(now - self._time, 1e-9),
                postfix=postfix(trainer.history) or None,
            )
            self._time = now
            self.file.write(line + "\n")
            self.file.flush()
        self._shown = done

    def close(self, *, final: bool = True) -> None:
        """End the bar; ``final`` draws the last iteration seen first, if not drawn yet (a run
        stopped by a signal or an error leaves that to its own one-line message)."""
        if self._closed:
            return
        self._closed = True
        if final and self._trainer is not None and self._trainer.iteration != self._shown:
            self._draw(self._trainer)
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> TrainingProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
