"""The manifest of third-party files: every hash checked, nothing wrong kept."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from analysis import manifest as mf
from analysis.errors import DataError


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _manifest(tmp_path: Path, entries: str) -> mf.Manifest:
    path = tmp_path / "sources.toml"
    path.write_text('[sources.s]\nlicense = "MIT"\ntitle = "t"\n' + entries)
    return mf.load_manifest(path)


def test_the_project_manifest_is_complete():
    manifest = mf.load_manifest()
    assert len(manifest.files) >= 20
    assert all(meta.get("license") and meta.get("citation") for meta in manifest.sources.values())
    for item in manifest.files:
        assert item.url or item.derived_from or item.path.endswith("SOURCE.txt"), item.path
        if item.url:
            # pinned to the commit named for its source, never a moving branch
            assert manifest.sources[item.source]["commit"] in item.url, item.url


def test_copy_from_mirror_then_present(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "s").mkdir(parents=True)
    data = b"x,y\n1,2\n"
    (mirror / "s" / "a.csv").write_bytes(data)
    digest = _sha(data)
    manifest = _manifest(
        tmp_path, f'[[files]]\npath = "s/a.csv"\nsource = "s"\nsha256 = "{digest}"\n'
    )
    dest = tmp_path / "raw"
    assert mf.fetch(dest, mirror, manifest, progress=False) == {"s/a.csv": "copied"}
    assert mf.fetch(dest, mirror, manifest, progress=False) == {"s/a.csv": "present"}
    assert mf.verify(dest, manifest) == []


def test_a_changed_mirror_file_is_refused_and_not_copied(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "s").mkdir(parents=True)
    (mirror / "s" / "a.csv").write_bytes(b"tampered")
    manifest = _manifest(
        tmp_path, f'[[files]]\npath = "s/a.csv"\nsource = "s"\nsha256 = "{_sha(b"good")}"\n'
    )
    with pytest.raises(DataError, match="the mirror's copy differs"):
        mf.fetch(tmp_path / "raw", mirror, manifest, progress=False)
    assert not (tmp_path / "raw" / "s" / "a.csv").exists()


def test_gzip_copies_are_checked_by_content(tmp_path):
    content = b"1409518932210372614\n"
    path = tmp_path / "ids.txt.gz"
    with gzip.GzipFile(path, "wb", mtime=12345) as fh:
        fh.write(content)
    item = mf.ManifestFile(
        path="ids.txt.gz",
        source="s",
        sha256="0" * 64,
        compress="gzip",
        content_sha256=_sha(content),
    )
    assert mf.is_valid(item, path)
    assert not mf.is_valid(mf.ManifestFile(path="x", source="s", sha256="0" * 64), path)


def test_download_is_verified_and_gzipped(tmp_path, monkeypatch):
    content = b"123\n456\n"

    def fake_retrieve(url, known_hash, path, fname, progressbar):
        assert known_hash == f"sha256:{_sha(content)}"
        out = Path(path) / fname
        out.write_bytes(content)
        return str(out)

    import pooch

    monkeypatch.setattr(pooch, "retrieve", fake_retrieve)
    manifest = _manifest(
        tmp_path,
        f'[[files]]\npath = "s/ids.txt.gz"\nsource = "s"\nsha256 = "{"0" * 64}"\ncompress = "gzip"\n'
        f'content_sha256 = "{_sha(content)}"\nurl = "https://example.org/ids.txt"\n',
    )
    dest = tmp_path / "raw"
    assert mf.fetch(dest, None, manifest, progress=False) == {"s/ids.txt.gz": "downloaded"}
    assert gzip.decompress((dest / "s" / "ids.txt.gz").read_bytes()) == content


def test_offline_download_says_what_to_do(tmp_path, monkeypatch):
    import pooch

    def offline(*args, **kwargs):
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr(pooch, "retrieve", offline)
    manifest = _manifest(
        tmp_path,
        f'[[files]]\npath = "s/a.csv"\nsource = "s"\nsha256 = "{"1" * 64}"\nurl = "https://example.org/a.csv"\n',
    )
    with pytest.raises(
        DataError, match=r"Name or service not known\); offline\? set PP_DATA_MIRROR"
    ):
        mf.fetch(tmp_path / "raw", None, manifest, progress=False)


def test_derived_file_missing_from_mirror_is_explained(tmp_path):
    manifest = _manifest(
        tmp_path,
        f'[[files]]\npath = "s/d.csv"\nsource = "s"\nsha256 = "{"1" * 64}"\nderived_from = "report.md"\n',
    )
    with pytest.raises(
        DataError, match=r"this file in the data mirror \(PP_DATA_MIRROR; derived from report.md\)"
    ):
        mf.fetch(tmp_path / "raw", tmp_path / "empty-mirror", manifest, progress=False)


def test_manifest_paths_must_stay_inside_data_raw(tmp_path):
    with pytest.raises(DataError, match="a path inside data/raw"):
        _manifest(
            tmp_path, f'[[files]]\npath = "../../etc/passwd"\nsource = "s"\nsha256 = "{"1" * 64}"\n'
        )
