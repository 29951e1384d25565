"""gpurel: reliability of GPU training clusters from scheduler accounting and health checks."""

__version__ = "0.1.0"
