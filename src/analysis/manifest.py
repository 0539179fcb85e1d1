"""The manifest of third-party raw files: fetch them and check every hash.

Third-party files are never committed. ``data/raw/sources.toml`` lists each one with
its sha256, licence and origin; :func:`fetch` puts each file under ``data/raw/``,
copying it from a local mirror when the mirror has it and downloading the pinned
upstream URL (with pooch) otherwise. A file whose hash does not match is never kept.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import shutil
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from . import config
from ._io import atomic_write
from .errors import DataError, Failure

__all__ = [
    "Manifest",
    "ManifestFile",
    "fetch",
    "is_valid",
    "load_manifest",
    "sha256_of",
    "verify",
]


@dataclass(frozen=True)
class ManifestFile:
    """One third-party file of the manifest (see ``data/raw/sources.toml``)."""

    path: str
    source: str
    sha256: str
    url: str | None = None
    compress: str | None = None
    content_sha256: str | None = None
    derived_from: str | None = None
    mirror: str | None = None

    @property
    def mirror_path(self) -> str:
        """Where the file sits inside the mirror folder."""
        return self.mirror or self.path


@dataclass(frozen=True)
class Manifest:
    """All files and the sources they come from (licence, citation, commit)."""

    files: tuple[ManifestFile, ...]
    sources: dict[str, dict[str, str]]

    def licences(self) -> dict[str, str]:
        """Licence of each source, by source name."""
        return {name: meta["license"] for name, meta in self.sources.items()}


def load_manifest(path: Path | None = None) -> Manifest:
    """Read and check the manifest (every file names a known source and a sha256)."""
    path = Path(path or config.MANIFEST_FILE)
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    sources = raw.get("sources", {})
    files = []
    failures = []
    for i, entry in enumerate(raw.get("files", []), start=1):
        try:
            item = ManifestFile(**entry)
        except TypeError as exc:
            failures.append(
                Failure(str(path), None, f"files[{i}]", str(entry), f"known keys ({exc})")
            )
            continue
        if item.source not in sources:
            failures.append(
                Failure(str(path), None, f"files[{i}].source", item.source, "a [sources.*] name")
            )
        if len(item.sha256) != 64:
            failures.append(
                Failure(str(path), None, f"files[{i}].sha256", item.sha256, "64 hex digits")
            )
        if Path(item.path).is_absolute() or ".." in Path(item.path).parts:
            failures.append(
                Failure(str(path), None, f"files[{i}].path", item.path, "a path inside data/raw")
            )
        files.append(item)
    if failures:
        raise DataError(failures)
    return Manifest(files=tuple(files), sources=sources)


def sha256_of(path: Path, *, gunzip: bool = False) -> str:
    """Hex sha256 of a file's bytes (of its uncompressed content if ``gunzip``)."""
    digest = hashlib.sha256()
    opener = gzip.open if gunzip else open
    with opener(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_valid(item: ManifestFile, path: Path) -> bool:
    """True if ``path`` holds the manifest's file (same bytes, or same gzip content)."""
    if not path.is_file():
        return False
    if sha256_of(path) == item.sha256:
        return True
    if item.compress == "gzip" and item.content_sha256:
        try:
            return sha256_of(path, gunzip=True) == item.content_sha256
        except (OSError, EOFError):
            return False
    return False


def _download(item: ManifestFile, target: Path) -> None:
    import pooch  # imported here: only a download needs it

    with tempfile.TemporaryDirectory() as tmp:
        known = item.content_sha256 if item.compress == "gzip" else item.sha256
        got = pooch.retrieve(
            item.url, known_hash=f"sha256:{known}", path=tmp, fname="download", progressbar=False
        )
        if item.compress == "gzip":

            def write(p: Path) -> None:
                with open(got, "rb") as src, gzip.open(p, "wb") as dst:
                    shutil.copyfileobj(src, dst)

            atomic_write(target, write)
        else:
            atomic_write(target, lambda p: shutil.copyfile(got, p))


def fetch(
    dest: Path | None = None,
    mirror: Path | None = None,
    manifest: Manifest | None = None,
    *,
    download: bool = True,
    progress: bool = True,
) -> dict[str, str]:
    """Make every manifest file present and verified under ``dest``.

    Parameters
    ----------
    dest : Path, optional
        Folder for the raw files (default ``data/raw``).
    mirror : Path, optional
        Local mirror to copy from first (default :func:`analysis.config.data_mirror`).
    manifest : Manifest, optional
        Default: ``data/raw/sources.toml``.
    download : bool
        Allow downloads of files the mirror lacks.
    progress : bool
        Show a progress bar.

    Returns
    -------
    dict
        For each file path, what happened: ``"present"``, ``"copied"`` or ``"downloaded"``.

    Raises
    ------
    DataError
        Listing every file that could not be obtained or whose hash is wrong; files
        that were obtained stay in place, and no file with a wrong hash is kept.
    """
    dest = Path(dest or config.RAW_DATA_DIR)
    mirror = mirror if mirror is not None else config.data_mirror()
    manifest = manifest or load_manifest()
    done: dict[str, str] = {}
    failures: list[Failure] = []
    for item in tqdm(manifest.files, desc="raw data", unit="file", disable=not progress):
        target = dest / item.path
        if is_valid(item, target):
            done[item.path] = "present"
            continue
        if mirror is not None and (Path(mirror) / item.mirror_path).is_file():
            source = Path(mirror) / item.mirror_path
            if is_valid(item, source):
                atomic_write(target, functools.partial(shutil.copyfile, source))
                done[item.path] = "copied"
                continue
            failures.append(
                Failure(
                    str(source),
                    None,
                    None,
                    f"sha256 {sha256_of(source)[:12]}…",
                    f"sha256 {item.sha256[:12]}… as in the manifest (the mirror's copy differs)",
                )
            )
            continue
        if item.url and download:
            try:
                _download(item, target)
                done[item.path] = "downloaded"
                continue
            except Exception as exc:  # network errors come in many types
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                failures.append(
                    Failure(
                        str(target),
                        None,
                        None,
                        item.url,
                        f"a download that works ({reason}); offline? set PP_DATA_MIRROR "
                        "to a folder holding the files",
                    )
                )
                continue
        where = f"derived from {item.derived_from}" if item.derived_from else "no public URL"
        failures.append(
            Failure(
                str(target),
                None,
                None,
                "",
                f"this file in the data mirror (PP_DATA_MIRROR; {where})",
            )
        )
    if failures:
        raise DataError(failures)
    return done


def verify(dest: Path | None = None, manifest: Manifest | None = None) -> list[Failure]:
    """Check every manifest file under ``dest`` without fetching anything."""
    dest = Path(dest or config.RAW_DATA_DIR)
    manifest = manifest or load_manifest()
    return [
        Failure(
            str(dest / item.path), None, None, "missing or changed", f"sha256 {item.sha256[:12]}…"
        )
        for item in manifest.files
        if not is_valid(item, dest / item.path)
    ]
