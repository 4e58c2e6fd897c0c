from tests.check.helpers import save  # noqa: F401 - fixture
