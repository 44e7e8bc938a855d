import pytest

pytestmark = pytest.mark.postgres


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/api/" in str(item.fspath):
            item.add_marker(pytest.mark.postgres)
