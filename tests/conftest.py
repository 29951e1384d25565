"""Settings for the whole suite: Hypothesis runs without deadlines (machines are noisy)."""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "gpurel", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("gpurel")
