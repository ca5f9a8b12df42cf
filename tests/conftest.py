import pytest


@pytest.fixture
def db(tmp_path):
    """A fresh SQLite storage URL in a temporary folder."""
    return f"sqlite:///{tmp_path / 'runs.db'}"
