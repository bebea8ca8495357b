"""The examples in the docstrings of the foundation and layer modules, and in
docs/equivariance.md, run as written and give what they show."""

from __future__ import annotations

import doctest
import importlib
import re
from pathlib import Path

import pytest

MODULES = [
    "equisphere.sphere.grids",
    "equisphere.sphere.interpolate",
    "equisphere.so3.rotations",
    "equisphere.so3.wigner",
    "equisphere.so3.grid",
    "equisphere.harmonics.sht",
    "equisphere.harmonics.so3_fft",
    "equisphere.harmonics.spherical_harmonics",
    "equisphere.harmonics.rotate",
    "equisphere.nn._activation",
    "equisphere.nn._batchnorm",
    "equisphere.nn._kernel_grids",
    "equisphere.nn._pooling",
    "equisphere.nn._s2_convolution",
    "equisphere.nn._so3_convolution",
    "equisphere.nn._so3_to_s2",
    "equisphere.nn._summary",
    "equisphere.nn._zonal",
    "equisphere.testing._actions",
    "equisphere.testing._equivariance",
    "equisphere.testing._grid_symmetries",
]
EQUIVARIANCE_DOC = Path(__file__).resolve().parents[2] / "docs" / "equivariance.md"


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0, result


def test_equivariance_doc_example_runs():
    (block,) = re.findall(r"```python\n(.*?)```", EQUIVARIANCE_DOC.read_text(), flags=re.DOTALL)
    namespace: dict = {}
    exec(compile(block, str(EQUIVARIANCE_DOC), "exec"), namespace)  # noqa: S102 (our own docs)
    assert namespace["report"].relative_error < 1e-10


def test_equivariance_doc_parameter_table_is_current():
    # The table in the docs is what parameter_table prints for the preset.
    from equisphere.models import build_model
    from equisphere.nn import parameter_table

    table = parameter_table(build_model("s2cnn-cohen2018"))
    assert table in EQUIVARIANCE_DOC.read_text()
