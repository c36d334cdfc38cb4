"""The fault suite: every fault of issue 19 reproduced as it was found.

Each test uses real files, real processes and real signals; a full disk is an
``ENOSPC`` injected at the write call (``os.write``), the one place every artifact
writer goes through. Every module here is marked ``faults`` (it runs in the default
``bash scripts/test.sh``; select it alone with ``-m faults``).
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/faults/" in str(item.fspath):
            item.add_marker(pytest.mark.faults)
