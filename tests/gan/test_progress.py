"""TrainingProgress: plain lines in a log, tqdm's bar in a terminal, read from any trainer."""

import io
import re

import pytest

from numgan.gan.progress import TrainingProgress, postfix


class FakeTrainer:
    """What TrainingProgress reads: the iteration and the per-iteration history."""

    def __init__(self, iteration: int = 0) -> None:
        self.iteration = iteration
        self.history = {key: [] for key in ("d_loss", "g_loss", "d_real", "d_fake", "value")}

    def step(self) -> None:
        self.iteration += 1
        i = self.iteration
        for key, value in (("d_loss", 1.25), ("g_loss", 0.75), ("d_real", 0.5), ("d_fake", 0.25)):
            self.history[key].append(value + i / 1000)
        self.history["value"].append(-1.0)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(progress: TrainingProgress, trainer: FakeTrainer, until: int) -> None:
    with progress:
        while trainer.iteration < until:
            trainer.step()
            progress.update(trainer)


def test_a_log_gets_about_ten_whole_lines_with_the_losses():
    log, trainer = io.StringIO(), FakeTrainer()
    run(TrainingProgress(1000, file=log), trainer, 1000)
    text = log.getvalue()
    assert "\r" not in text and text.endswith("\n")
    lines = text.splitlines()
    assert len(lines) == 10
    assert [re.search(r"\| (\d+)/1000 ", line).group(1) for line in lines] == [
        str(100 * i) for i in range(1, 11)
    ]
    assert "it/s" in lines[-1]
    assert "D loss 2.250, G loss 1.750, D(x) 1.500, D(G(z)) 1.250" in lines[-1]


def test_a_resumed_run_counts_from_where_it_was():
    log, trainer = io.StringIO(), FakeTrainer(iteration=400)
    run(TrainingProgress(1000, 400, file=log), trainer, 1000)
    lines = log.getvalue().splitlines()
    assert len(lines) == 10
    assert "460/1000" in lines[0] and "1000/1000" in lines[-1]


def test_an_interrupted_run_ends_its_log_on_the_last_iteration():
    log, trainer = io.StringIO(), FakeTrainer()
    with pytest.raises(KeyboardInterrupt), TrainingProgress(1000, file=log) as progress:
        for _ in range(257):
            trainer.step()
            progress.update(trainer)
        raise KeyboardInterrupt
    lines = log.getvalue().splitlines()
    assert "200/1000" in lines[-2] and "257/1000" in lines[-1]


def test_a_terminal_gets_a_tqdm_bar_that_ends_on_the_last_state():
    terminal, trainer = Terminal(), FakeTrainer()
    run(TrainingProgress(500, file=terminal), trainer, 500)
    text = terminal.getvalue()
    assert "\r" in text and text.endswith("\n")
    last = text.rstrip("\n").split("\r")[-1]
    assert "500/500" in last and "it/s" in last
    assert "D loss 1.750, G loss 1.250, D(x) 1.000, D(G(z)) 0.750" in last


def test_the_bar_redraws_far_less_often_than_iterations_run():
    terminal, trainer = Terminal(), FakeTrainer()
    run(TrainingProgress(200_000, file=terminal), trainer, 200_000)
    redraws = terminal.getvalue().count("\r")
    assert 2 <= redraws < 2_000, redraws


def test_close_is_idempotent_and_needs_no_update():
    log = io.StringIO()
    progress = TrainingProgress(10, file=log)
    progress.close()
    progress.close()
    assert log.getvalue() == ""


def test_postfix_of_an_empty_history_is_empty():
    assert postfix(FakeTrainer().history) == ""


def test_close_without_the_final_line_leaves_the_last_word_to_the_caller():
    """A run stopped by a signal or an error prints its own one line: no progress line after."""
    log, trainer = io.StringIO(), FakeTrainer()
    progress = TrainingProgress(1000, file=log)
    for _ in range(150):
        trainer.step()
        progress.update(trainer)
    progress.close(final=False)
    assert [
        re.search(r"\| (\d+)/1000 ", line).group(1) for line in log.getvalue().splitlines()
    ] == ["100"]
    log2, trainer2 = io.StringIO(), FakeTrainer()
    progress = TrainingProgress(1000, file=log2)
    for _ in range(150):
        trainer2.step()
        progress.update(trainer2)
    progress.close()
    assert "150/1000" in log2.getvalue().splitlines()[-1]
