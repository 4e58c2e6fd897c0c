from tests.gate.helpers import save  # noqa: F401 - fixture
