from tests.check.helpers import save, trt_samples  # noqa: F401 - fixtures
