"""The GPU path cannot be run here, so check statically that it cannot silently rot.

Every `xp.<name>` the engine and the layers call must be a function CuPy provides
(the list below was checked against cupy-cuda12x 14 with hasattr, which works without
a GPU), and no layer may fall back to NumPy-only scatter helpers.  Where CuPy is
installed the list itself is verified again.
"""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ["minigrad", "layers", "n3net"]

CUPY_PROVIDES = {
    "abs", "add", "arange", "argsort", "dtype", "asarray", "broadcast_to", "concatenate", "einsum", "empty",
    "empty_like", "exp", "expm1", "eye", "float32", "float64", "full", "inf", "isfinite", "isinf", "isnan",
    "log", "log1p", "logaddexp", "matmul", "maximum", "minimum", "multiply", "ones", "ones_like",
    "pad", "sign", "sqrt", "stack", "sum", "take_along_axis", "tanh", "tensordot", "where",
    "zeros", "zeros_like",
}
FORBIDDEN_ATTRIBUTES = {"at"}          # ufunc.at scatter: slow, and partial in CuPy


def source_files():
    for package in PACKAGES:
        yield from sorted((ROOT / package).glob("**/*.py"))


def xp_calls():
    """(file, line, name) for every attribute chain xp.<name>..."""
    for path in source_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "xp"
                    and not node.attr.startswith("__")):
                yield path.relative_to(ROOT), node.lineno, node.attr


def test_only_functions_cupy_provides():
    unknown = [f"{path}:{line}: xp.{name}" for path, line, name in xp_calls() if name not in CUPY_PROVIDES]
    assert not unknown, "not in CuPy's checked namespace:\n" + "\n".join(unknown)


def test_no_scatter_helpers():
    found = []
    for path in source_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRIBUTES:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not found, "ufunc.at scatter used at: " + ", ".join(found)


def test_the_checked_list_against_cupy():
    cupy = pytest.importorskip("cupy")
    missing = sorted(name for name in CUPY_PROVIDES if not hasattr(cupy, name))
    assert not missing
