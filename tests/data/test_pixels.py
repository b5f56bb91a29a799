"""Pixel ranges: scale_pixels maps 0..max_value onto each PIXEL_RANGES range, endpoints exact."""

import numpy as np
import pytest

from numgan.data import pixels as npx


def test_scale_pixels_endpoints():
    x = np.array([0, 51, 255], np.uint8)
    np.testing.assert_array_equal(npx.scale_pixels(x), np.array([0, 0.2, 1], np.float32))
    np.testing.assert_array_equal(npx.scale_pixels(x, "sigmoid"), np.array([0, 0.2, 1], np.float32))
    np.testing.assert_array_equal(npx.scale_pixels(x, "tanh"), np.array([-1, -0.6, 1], np.float32))
    d = np.array([0, 8, 16])
    np.testing.assert_array_equal(npx.scale_pixels(d, "sigmoid", max_value=16), [0, 0.5, 1])
    np.testing.assert_array_equal(npx.scale_pixels(d, "tanh", max_value=16), [-1, 0, 1])
    assert npx.scale_pixels(x).dtype == np.float32
    with pytest.raises(ValueError, match="outside 0..16"):
        npx.scale_pixels(x, max_value=16)


@pytest.mark.parametrize("name", list(npx.PIXEL_RANGES))
def test_every_pixel_range_is_reached_exactly_and_in_order(name):
    lo, hi = npx.PIXEL_RANGES[name]
    x = np.arange(256, dtype=np.uint8).reshape(16, 16)
    out = npx.scale_pixels(x, name)
    assert out.shape == x.shape and out[0, 0] == lo and out[-1, -1] == hi
    assert np.all(np.diff(out.ravel()) > 0)
    np.testing.assert_allclose(out, lo + (hi - lo) * x / 255, atol=1e-6)


@pytest.mark.parametrize("bad", ["unit", "linear", None, 1])
def test_an_unknown_range_lists_the_names_and_their_ranges(bad):
    with pytest.raises(ValueError) as err:
        npx.scale_pixels(np.zeros(3, np.uint8), bad)
    message = str(err.value)
    assert "'sigmoid' ([0, 1]) or 'tanh' ([-1, 1])" in message and repr(bad) in message
    assert "\n" not in message
