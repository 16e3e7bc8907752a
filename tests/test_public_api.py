"""Each package names its public API in a sorted ``__all__`` that resolves."""

import importlib
import subprocess
import sys

import pytest

PACKAGES = [
    "engine",
    "engine.store",
    "recipes",
    "datasets",
    "engine.errors",
    "engine.training",
    "engine.experiments",
    "engine.protocols",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_every_name_exists(name):
    module = importlib.import_module(name)
    assert list(module.__all__) == sorted(module.__all__)
    missing = [symbol for symbol in module.__all__ if not hasattr(module, symbol)]
    assert missing == []


def test_importing_engine_does_not_import_the_training_libraries():
    code = "import sys, engine; print(sorted({'implicit', 'lightfm'} & set(sys.modules)))"
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == "[]"


@pytest.mark.parametrize("name", ["recipes", "engine.errors", "engine.store", "datasets"])
def test_each_package_imports_on_its_own(name):
    code = f"import {name}; print('imported')"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (output.returncode, output.stdout.strip()) == (0, "imported"), output.stderr


def test_engine_exports_exactly_its_all():
    import engine

    assert sorted(engine._EXPORTS) == engine.__all__
