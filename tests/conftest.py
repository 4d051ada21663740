import os

import numpy as np
import pytest
from hypothesis import settings

os.environ.setdefault("WARP_LOG_LEVEL", "error")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# On CI (``CI`` set) the property tests draw the same examples on every run and never time out on a slow runner:
# a red CI then names a case that fails again locally (HYPOTHESIS_PROFILE=ci pytest ...); elsewhere they explore.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default"))


@pytest.fixture(scope="session")
def body():
    """The anny body model (loads once per test session; builds its cache on first use ever)."""
    from backsurface.acquisition.synthetic.body import BodyModel

    return BodyModel()


@pytest.fixture(scope="session")
def synthetic(body):
    from backsurface.acquisition.synthetic.cohort import CohortSpec
    from backsurface.acquisition.synthetic.source import SyntheticSource

    return SyntheticSource(CohortSpec(n_subjects=4, n_female=2, deformity_share=0.5, seed=3), body=body)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
