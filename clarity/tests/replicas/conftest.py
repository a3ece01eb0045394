import logging

import pytest


@pytest.fixture(autouse=True)
def _quiet_http_client_logs():
    # httpx logs every request at INFO, and the suite's log capture runs at INFO.
    logging.getLogger("httpx").setLevel(logging.WARNING)
