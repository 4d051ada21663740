"""Label rendering speed: vectorised labels vs the paper's per-pixel loop, on the same sample.

Prints labels rendered per second (heatmaps + affinity fields + validity mask for one sample)
and the speed-up over the reference loops (``reference_heatmap_loop`` + ``reference_affinity_loop``).
Nothing here is asserted; timings vary with the machine.

    PYTHONPATH=lib python benchmarks/bench_labels.py [--input-size 368] [--stride 8]
"""

from __future__ import annotations

import argparse
import sys
import timeit
from pathlib import Path

import numpy as np

try:
    from backsurface.codec import encode as labels
    from backsurface.codec import grid
except ImportError:  # run from a checkout without PYTHONPATH=lib
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
    from backsurface.codec import encode as labels
    from backsurface.codec import grid

# The paper's example annotation (Sec. 7-1), raw 512x424 frame coordinates.
PAPER_EXAMPLE = np.array(
    [267, 137, 261, 304, 214, 154, 313, 154, 239, 202, 294, 192, 227, 261, 295, 258, 247, 286, 273, 291], float
).reshape(10, 2)


def per_call(fn, number: int, repeat: int) -> float:
    """Best mean seconds per call over ``repeat`` rounds of ``number`` calls."""
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input-size", type=int, default=368)
    ap.add_argument("--stride", type=int, default=8)
    ap.add_argument("--sigma", type=float, default=labels.SIGMA)
    ap.add_argument("--th", type=float, default=labels.TH)
    ap.add_argument("--limb-width", type=float, default=labels.LIMB_WIDTH)
    ap.add_argument("--number", type=int, default=300, help="calls per timing round (vectorised)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)

    size, stride = args.input_size, args.stride
    # letterbox the 512-wide frame into the square input, as preprocess.fit_transform does
    s = size / 512
    pts = (PAPER_EXAMPLE + 0.5) * s - 0.5 + np.array([0.0, (size - 424 * s) / 2])
    kw = dict(stride=stride, sigma=args.sigma, th=args.th, limb_width=args.limb_width)

    def fast():
        return labels.render_labels(pts, size, **kw)

    def slow():
        return (
            labels.reference_heatmap_loop(pts, size, stride, args.sigma, args.th),
            labels.reference_affinity_loop(pts, size, stride, args.limb_width),
            labels.validity_mask(pts),
        )

    # same input, same output
    for a, b in zip(fast(), slow(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)

    t_fast = per_call(fast, args.number, args.repeat)
    t_slow = per_call(slow, max(1, args.number // 100), args.repeat)
    t_hm = per_call(lambda: labels.heatmaps(pts, size, stride, args.sigma, args.th), args.number, args.repeat)
    t_hm_ref = per_call(
        lambda: labels.reference_heatmap_loop(pts, size, stride, args.sigma, args.th),
        max(1, args.number // 100),
        args.repeat,
    )
    n = grid.output_size(size, stride)
    print(
        f"labels for one sample: input {size}x{size}, stride {stride} -> heatmaps ({n}, {n}, 11), "
        f"affinity fields ({n}, {n}, 10), mask (21,)"
    )
    print(f"vectorised   : {t_fast * 1e6:9.1f} us/sample  {1 / t_fast:9.0f} labels/s")
    print(f"reference    : {t_slow * 1e6:9.1f} us/sample  {1 / t_slow:9.0f} labels/s  (per-cell Python loops)")
    print(f"speed-up     : {t_slow / t_fast:9.1f} x  (all labels)")
    print(f"heatmaps only: {t_hm * 1e6:9.1f} us vs {t_hm_ref * 1e6:.1f} us reference -> {t_hm_ref / t_hm:.1f} x")


if __name__ == "__main__":
    main()
