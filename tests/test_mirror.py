"""Test-time flip: outputs of a mirrored input mapped back onto the original image, exactly."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from backsurface.codec import encode, mirror
from backsurface.core.landmarks import FLIP_PERMUTATION, LINKS
from backsurface.data import augment
from backsurface.net.inference import FlipTest

SIZE = 184


@pytest.mark.parametrize("stride", [8, 4])
@settings(max_examples=25, deadline=None)
@given(points=arrays(np.float64, (10, 2), elements=st.floats(12.0, SIZE - 13.0)))
def test_labels_of_the_mirrored_points_map_back_to_the_labels_of_the_points(stride, points):
    heat, pafs, _ = encode.render_labels(points, SIZE, stride)
    assert heat.shape[0] == SIZE // stride
    _, mirrored_points = augment.hflip(np.zeros((SIZE, SIZE), np.float32), points)
    back_heat, back_pafs = mirror.unmirror(*encode.render_labels(mirrored_points, SIZE, stride)[:2])
    np.testing.assert_allclose(back_heat, heat, atol=1e-6)
    np.testing.assert_allclose(back_pafs, pafs, atol=1e-6)


def test_a_shoulder_link_and_the_spine_link_change_the_sign_their_mirror_gives_them():
    # LSH (x 40) -> RSH (x 140) along +x in the image; its mirror image runs RSH -> LSH, also along +x in the mirror
    points = np.array([[90, 40], [90, 150], [40, 50], [140, 60], [60, 90], [120, 90], [50, 120], [130, 120],
                       [70, 140], [110, 140]], float)
    heat, pafs, _ = encode.render_labels(points, SIZE)
    _, mirrored = augment.hflip(np.zeros((SIZE, SIZE), np.float32), points)
    m_heat, m_pafs, _ = encode.render_labels(mirrored, SIZE)
    k = int(np.flatnonzero((LINKS[:, 0] == 2) & (LINKS[:, 1] == 3))[0])
    cell = np.unravel_index(np.abs(pafs[..., 2 * k]).argmax(), pafs.shape[:2])
    mirrored_cell = (cell[0], pafs.shape[1] - 1 - cell[1])
    assert pafs[cell][2 * k] > 0 and m_pafs[mirrored_cell][2 * k] > 0  # +x in both images: the link reversed
    assert mirror.PAF_SIGN[2 * k] == 1 and mirror.PAF_SIGN[2 * k + 1] == -1
    spine = int(np.flatnonzero((LINKS[:, 0] == 0) & (LINKS[:, 1] == 1))[0])
    assert mirror.PAF_SIGN[2 * spine] == -1 and mirror.PAF_SIGN[2 * spine + 1] == 1


@settings(max_examples=20, deadline=None)
@given(arrays(np.float32, (2, 6, 6, 11), elements=st.floats(-1, 1, width=32)),
       arrays(np.float32, (2, 6, 6, 10), elements=st.floats(-1, 1, width=32)))
def test_unmirror_is_its_own_inverse(heat, pafs):
    h2, p2 = mirror.unmirror(*mirror.unmirror(heat, pafs))
    np.testing.assert_array_equal(h2, heat)
    np.testing.assert_array_equal(p2, pafs)


def test_the_background_channel_is_mirrored_but_not_permuted_and_the_links_are_closed_under_the_mirror():
    heat = np.zeros((1, 4, 4, 11))
    heat[0, 1, 0, 10] = 1.0
    heat[0, 2, 0, 2] = 1.0  # LSH at column 0 → RSH at column 3
    out, _ = mirror.unmirror(heat, np.zeros((1, 4, 4, 10)))
    assert out[0, 1, 3, 10] == 1.0 and out[0, 2, 3, FLIP_PERMUTATION[2]] == 1.0 and out.sum() == 2.0
    assert sorted(mirror.PAF_SOURCE) == list(range(10))


def test_unmirror_refuses_outputs_of_the_wrong_shape():
    with pytest.raises(ValueError, match="expected heatmaps"):
        mirror.unmirror(np.zeros((4, 4, 9)), np.zeros((4, 4, 10)))
    with pytest.raises(ValueError, match="pafs"):
        mirror.unmirror(np.zeros((4, 4, 11)), np.zeros((4, 4, 8)))


class _PointNet:
    """A fake network: one heatmap peak per landmark at fixed positions, plus a left-right bias it does not mirror."""

    input_size = SIZE

    def __init__(self, points, bias):
        self.points, self.bias = points, bias

    def __call__(self, images):
        mirrored = images[0, 0, 0] == 1.0  # the caller's mirror moves the marker pixel to the other corner
        pts = self.points.copy()
        if mirrored:
            _, pts = augment.hflip(np.zeros((SIZE, SIZE), np.float32), pts)
        pts[:, 0] += self.bias
        h, p, _ = encode.render_labels(pts, SIZE)
        return np.stack([h] * len(images)), np.stack([p] * len(images))


def test_flip_test_cancels_a_horizontal_bias_of_the_network():
    from backsurface.codec.decode import heatmap_peaks

    points = np.array([[92, 30], [92, 150], [40, 50], [140, 52], [60, 90], [124, 92], [50, 120], [134, 118],
                       [70, 140], [112, 141]], float)
    images = np.zeros((1, SIZE, SIZE), np.float32)
    images[0, 0, -1] = 1.0  # seen in the top-left corner only by the mirrored pass
    net = _PointNet(points, bias=4.0)
    one_pass, _ = heatmap_peaks(net(images)[0])
    flipped, _ = heatmap_peaks(FlipTest(net)(images)[0])
    assert np.abs(one_pass[0, :, 0] - points[:, 0] - 4.0).max() < 0.6  # one pass keeps the bias
    assert np.abs(flipped[0] - points).max() < 0.6  # the mirror pass carries it the other way: it cancels
    assert np.abs(flipped[0, :, 0] - points[:, 0]).mean() < np.abs(one_pass[0, :, 0] - points[:, 0]).mean() - 3
