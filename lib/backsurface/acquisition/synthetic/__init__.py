"""Synthetic Kinect v2 cohort from the ``anny`` body model (the only torch user in the study)."""
