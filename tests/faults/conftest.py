"""The cluster fault suite runs only when asked for by its marker."""

# `make test-faults-cluster` passes `-m faults_cluster`: it starts three Kafka nodes and takes
# minutes, so a plain `pytest` (`make test`) leaves it out, as a release gate of its own.

import pytest

CLUSTER = "faults_cluster"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the cluster suite unless the -m expression names its marker."""
    if CLUSTER in (config.option.markexpr or ""):
        return
    left_out = [item for item in items if item.get_closest_marker(CLUSTER)]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if not item.get_closest_marker(CLUSTER)]
