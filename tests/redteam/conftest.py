"""Every test in this folder is an insider's attack (marker `redteam`)."""

# Attacks that live beside the code they probe carry the marker themselves, so `make test-redteam`
# runs them all.

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark this folder's tests."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.redteam)
