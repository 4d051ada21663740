import os

import numpy as np
import pytest

os.environ.setdefault("WARP_LOG_LEVEL", "error")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


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
