"""One checksum for a set of files under a root: what manifests record for their sources.

sha256 over each file's relative name, NUL, bytes, NUL, in name order — so a rename, an
edit or a new file all change it, and it does not depend on the order files are found.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["TreeDigest", "tree_checksum"]


class TreeDigest:
    """Incremental form of :func:`tree_checksum`, for callers that read the bytes anyway."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._digest = hashlib.sha256()

    def ordered(self, files: Iterable[Path]) -> Iterator[Path]:
        """``files`` in the order the checksum takes them."""
        return iter(sorted(files, key=lambda p: p.relative_to(self.root).as_posix()))

    def add(self, path: Path, data: bytes) -> None:
        self._digest.update(path.relative_to(self.root).as_posix().encode() + b"\0")
        self._digest.update(data)
        self._digest.update(b"\0")

    def checksum(self) -> str:
        return f"sha256:{self._digest.hexdigest()}"


def tree_checksum(files: Iterable[Path], root: Path) -> str:
    """``sha256:<hex>`` of ``files`` (all under ``root``) as they are on disk now."""
    digest = TreeDigest(root)
    for path in digest.ordered(files):
        digest.add(path, path.read_bytes())
    return digest.checksum()
