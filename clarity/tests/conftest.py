import pytest

from clarity.tests.live import production_server


@pytest.fixture(scope="session")
def live_clarity():
    """`python -m clarity.serve` on its own fresh database, with collected static files and demo data."""
    with production_server() as server:
        yield server
