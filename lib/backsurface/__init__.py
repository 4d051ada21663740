"""Back-surface landmark detection from Kinect v2 depth: a reproducible study library."""

__version__ = "0.1.0"
