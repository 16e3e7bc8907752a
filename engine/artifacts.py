"""Solution version artifacts: a directory of ``.npy`` arrays and a ``manifest.json``.

No pickle anywhere: arrays are saved and loaded with ``allow_pickle=False`` (string
vocabularies are fixed-width unicode arrays), so loading an artifact never executes code.
The manifest records the sha256 of every array file; loading checks them and names the
file that is damaged.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import ArtifactError
from engine.store.files import atomic_write, fsync_directory, read_json, write_json

__all__ = ["MANIFEST", "discard_staging", "load_arrays", "read_manifest", "write_artifact"]

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
STAGING = ".staging"


def _array_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def write_artifact(
    directory: Path, manifest: Mapping[str, Any], arrays: Mapping[str, np.ndarray]
) -> None:
    """Write ``arrays`` and ``manifest`` into ``directory``, the manifest last.

    ``directory`` may hold the version's record already (its ``manifest.json`` while it
    trains). The arrays are written into a staging directory inside it and fsynced, then
    moved into place; the manifest, which names them with their checksums, replaces the
    record last. So a reader sees the old record or the complete artifact, and a crash
    leaves no array the manifest names half-written.
    """
    staging = directory / STAGING
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    checksums = {}
    for name, array in sorted(arrays.items()):
        data = _array_bytes(array)
        atomic_write(staging / f"{name}.npy", data)
        checksums[f"{name}.npy"] = hashlib.sha256(data).hexdigest()
    for file_name in checksums:
        os.replace(staging / file_name, directory / file_name)
    fsync_directory(directory)
    write_json(directory / MANIFEST, {**manifest, "files": checksums})
    shutil.rmtree(staging, ignore_errors=True)
    logger.debug("wrote artifact %s with %d arrays", directory, len(checksums))


def discard_staging(directory: Path) -> None:
    """Remove the arrays of a write that did not finish."""
    shutil.rmtree(directory / STAGING, ignore_errors=True)


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of the artifact in ``directory``.

    Raises
    ------
    ArtifactError
        The manifest is missing or is not valid JSON.
    """
    path = directory / MANIFEST
    try:
        manifest: dict[str, Any] = read_json(path)
    except FileNotFoundError:
        raise ArtifactError(f"artifact {directory} has no {MANIFEST}") from None
    except ValueError as error:
        raise ArtifactError(f"{path} is damaged: {error}") from None
    return manifest


def load_arrays(
    directory: Path, manifest: Mapping[str, Any], verify: bool = True
) -> dict[str, np.ndarray]:
    """Memory-map every array of the artifact, after checking its sha256.

    Raises
    ------
    ArtifactError
        A file is missing, or its checksum differs from the manifest (truncated or altered).
    """
    arrays = {}
    for file_name, expected in sorted(manifest["files"].items()):
        path = directory / file_name
        if not path.is_file():
            raise ArtifactError(f"artifact {directory} is missing {file_name}")
        if verify and _sha256(path) != expected:
            raise ArtifactError(
                f"{path} is damaged: its sha256 does not match the manifest "
                "(the file was truncated or altered); train a new version"
            )
        try:
            arrays[file_name.removesuffix(".npy")] = np.load(
                path, mmap_mode="r", allow_pickle=False
            )
        except ValueError as error:
            raise ArtifactError(f"{path} is not a readable array: {error}") from None
    return arrays


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
