"""The docstring examples of the camera and resampling modules run and give what they show."""

import doctest
import importlib

import pytest

MODULES = [
    "equisphere.cameras.analytic",
    "equisphere.cameras.omni",
    "equisphere.cameras.polynomial",
    "equisphere.resample.cache",
    "equisphere.resample.camera",
    "equisphere.resample.equirect",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
