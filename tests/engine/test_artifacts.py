import numpy as np
import pytest

from engine.artifacts import load_arrays, read_manifest, write_artifact
from engine.errors import ArtifactError


def _write(tmp_path):
    directory = tmp_path / "v1"
    arrays = {"item_ids": np.array(["a", "b"]), "factors": np.arange(6, dtype=np.float32)}
    write_artifact(directory, {"status": "ACTIVE"}, arrays)
    return directory


def test_round_trip_gives_identical_arrays_and_no_staging_left(tmp_path):
    directory = _write(tmp_path)
    arrays = load_arrays(directory, read_manifest(directory))
    assert arrays["item_ids"].tolist() == ["a", "b"]
    assert arrays["factors"].tolist() == [0, 1, 2, 3, 4, 5]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["v1"]


def test_a_flipped_byte_is_detected_and_the_file_named(tmp_path):
    directory = _write(tmp_path)
    path = directory / "factors.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=r"factors\.npy is damaged: its sha256 does not match"):
        load_arrays(directory, read_manifest(directory))


def test_a_missing_file_is_named(tmp_path):
    directory = _write(tmp_path)
    (directory / "item_ids.npy").unlink()
    with pytest.raises(ArtifactError, match=r"is missing item_ids\.npy"):
        load_arrays(directory, read_manifest(directory))


def test_object_arrays_are_refused_when_written(tmp_path):
    with pytest.raises(ValueError, match="allow_pickle"):
        write_artifact(tmp_path / "v1", {}, {"bad": np.array([{"a": 1}], dtype=object)})
