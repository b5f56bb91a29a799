"""benchmarks/conv_choices.py: the alternatives agree with numgan's kernels, and the table has
every choice with a time for both sides."""

import conv_choices


def test_the_alternatives_compute_the_same_patches():
    conv_choices.check(parallel=False)  # raises if the (c, i, j) or earlier NCHW forms disagree
    conv_choices.check(parallel=True)  # or the prange one
    conv_choices.check_blocks()  # or the layers that work a block of images at a time


def test_table_has_every_choice(capsys):
    conv_choices.main(["--repeats", "2"])
    out = capsys.readouterr().out
    assert "conv_choices.py --repeats 2" in out
    lines = [line for line in out.splitlines() if line.startswith("| ") and "ms" not in line]
    assert [line.split(" | ")[0][2:] for line in lines] == [
        "im2col patch order",
        "im2col, 32x14x14",
        "col2im, 32x14x14",
        "im2col, 1x28x28",
        "col2im, 1x28x28",
        "Conv2D output, with b",
        "db in nchw_to_rows",
        "bias as col2im's base",
        "im2col + GEMM, threads",
        "DCGAN iteration, 1024 patch rows a block",
        "DCGAN iteration, 2048 patch rows a block",
        "DCGAN iteration, 4096 patch rows a block",
    ]
    for line in lines:
        cells = line.strip("|").split("|")
        assert float(cells[2]) > 0 and float(cells[4]) > 0 and cells[5].strip().endswith("x")
