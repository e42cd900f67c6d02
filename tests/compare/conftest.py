"""The comparisons the compare tests review: the Studio cast (tests/conftest.py) and its fox."""

import pytest

from tests.compare.factories import finished


@pytest.fixture
def fox(studio):
    """A comparison of Studio's on three sandbox routes, every one run to the end."""
    return finished(studio)
