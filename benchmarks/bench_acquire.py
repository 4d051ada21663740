"""Synthetic acquisition speed: subjects rendered and written per second (anny cache already built).

    python benchmarks/bench_acquire.py [n_subjects]

Target (issue 2): the 105-subject default cohort in at most 3 minutes on a 2-core machine.
"""

import os
import sys
import tempfile
import time

os.environ.setdefault("WARP_LOG_LEVEL", "error")

from backsurface.acquisition.acquire import write_cohort  # noqa: E402
from backsurface.acquisition.synthetic.cohort import CohortSpec  # noqa: E402
from backsurface.acquisition.synthetic.source import SyntheticSource  # noqa: E402


def main(n: int = 105) -> None:
    t0 = time.perf_counter()
    source = SyntheticSource(CohortSpec(n_subjects=n, n_female=min(n, 50) * n // 105 or 0, seed=0))
    t_init = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        t1 = time.perf_counter()
        write_cohort(source, f"{tmp}/raw", progress=False)
        t_write = time.perf_counter() - t1
    print(f"model load + cohort draw: {t_init:.1f} s")
    print(f"{n} subjects rendered and written in {t_write:.1f} s: {n / t_write:.2f} subjects/s")
    print(f"105-subject cohort estimate: {t_init + 105 * t_write / n:.0f} s (target <= 180 s)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 105)
