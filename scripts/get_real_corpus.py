#!/usr/bin/env python3
"""Get the real exports of the corpus that a package registry serves (tests/data/real/README.md).

    python scripts/get_real_corpus.py [DEST]

DEST is ``$TRACKER_REAL_CORPUS`` if set, else tests/data/real/cache/ (git-ignored); the tests
look in both. For every file of tests/data/real/manifest.yaml whose ``source`` names a
registry, this downloads the package with the registry's own client (pip for PyPI) at the
pinned version, the exact artifact (its sha256 pinned too), takes the file out of it,
converts it as the manifest's ``convert`` says, checks the result's sha256 against the
manifest and writes it under its corpus name. A file already there with the right sha256
is left alone, so a second run downloads nothing. A failed download or a wrong checksum
prints one line and exits 1; nothing half-written is left under the corpus name.

The other files of the manifest come only from GitHub repositories (see the README): this
script does not get them.

Standard library only: CI runs it before the project's virtualenv exists.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import os
import subprocess
import sys
import tempfile
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "tests" / "data" / "real" / "manifest.yaml"
CACHE = ROOT / "tests" / "data" / "real" / "cache"
SUPPORTED = ("pypi",)


class Failure(Exception):
    """One line saying what failed and what to do."""


# ---- the manifest: the few keys this script needs, without PyYAML ----------------------


def _scalar(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return text


def read_sources(manifest: Path | None = None) -> dict[str, dict[str, str]]:
    """{corpus name: its ``source`` mapping plus ``sha256``}, for every file of the manifest.

    Reads the block layout that scripts/corpus_manifest.py writes (yaml.safe_dump): file
    names indented by 2 under ``files:``, their keys by 4, the keys of ``source`` by 6, one
    plain or quoted scalar each. tests/test_get_real_corpus.py holds this reading to PyYAML's.
    """
    files: dict[str, dict[str, str]] = {}
    name: str | None = None
    in_files = in_source = False
    for line in (manifest or MANIFEST).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        key, _, value = line.strip().partition(":")
        if indent == 0:
            in_files = key == "files"
            continue
        if not in_files:
            continue
        if indent == 2:
            name = _scalar(line.strip()[:-1]) if line.rstrip().endswith(":") else None
            if name is not None:
                files[name] = {}
            in_source = False
        elif name is not None and indent == 4:
            in_source = key == "source" and not value.strip()
            if key == "sha256":
                files[name]["sha256"] = _scalar(value)
        elif name is not None and indent == 6 and in_source and value.strip():
            files[name][_scalar(key)] = _scalar(value)
    return files


def registry_files(manifest: Path | None = None) -> dict[str, dict[str, str]]:
    return {name: source for name, source in read_sources(manifest).items() if "registry" in source}


# ---- downloading -----------------------------------------------------------------------


def _pip(workdir: Path) -> list[str]:
    """A pip to run: this Python's, or one in a throwaway virtualenv."""
    probe = subprocess.run(
        [sys.executable, "-m", "pip", "--version"], capture_output=True, check=False
    )
    if probe.returncode == 0:
        return [sys.executable, "-m", "pip"]
    env_dir = workdir / "pip-venv"
    try:
        venv.create(env_dir, with_pip=True)
    except Exception as exc:  # noqa: BLE001 - any reason is reported the same way
        raise Failure(
            f"no pip for {sys.executable} and no virtualenv with pip could be made "
            f"({exc}); install python3-venv or pip"
        ) from exc
    return [str(env_dir / "bin" / "python"), "-m", "pip"]


def _wheel_tags(artifact: str) -> tuple[str, str, str]:
    """(python tag, abi tag, one platform tag) of a wheel's file name."""
    parts = artifact[: -len(".whl")].split("-")
    if len(parts) < 5:
        raise Failure(f"{artifact}: not a wheel file name")
    python, abi, platforms = parts[-3], parts[-2], parts[-1]
    return python.split(".")[0], abi, platforms.split(".")[-1]


def download_pypi(source: dict[str, str], workdir: Path) -> Path:
    """The pinned artifact of a PyPI package, downloaded with pip and checked by its hash."""
    package, version, artifact = source["package"], source["version"], source["artifact"]
    if not artifact.endswith(".whl"):
        raise Failure(
            f"{package} {version}: only wheels are fetched (sdists would be built "
            f"by pip to read their metadata); the manifest names {artifact}"
        )
    requirement = workdir / "requirement.txt"
    requirement.write_text(
        f"{package}=={version} --hash=sha256:{source['artifact_sha256']}\n", encoding="utf-8"
    )
    python, abi, platform = _wheel_tags(artifact)
    target = workdir / "download"
    command = [
        *_pip(workdir),
        "download",
        "--no-deps",
        "--only-binary",
        ":all:",
        "--require-hashes",
        "--disable-pip-version-check",
        "--quiet",
        "--platform",
        platform,
        "--implementation",
        python[:2],
        "--python-version",
        python[2:3] + "." + python[3:],
        "--abi",
        abi,
        "--dest",
        str(target),
        "-r",
        str(requirement),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    path = target / artifact
    if result.returncode != 0 or not path.is_file():
        reason = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise Failure(
            f"pip could not download {artifact} ({package}=={version} from PyPI): {reason}"
        )
    return path


def download(source: dict[str, str], workdir: Path) -> Path:
    registry = source["registry"]
    if registry not in SUPPORTED:
        raise Failure(
            f"registry {registry!r} ({source.get('package')}): this script knows "
            f"only {', '.join(SUPPORTED)}"
        )
    return download_pypi(source, workdir)


# ---- taking the file out and converting it -----------------------------------------------


def extract(artifact: Path, member: str) -> bytes:
    if artifact.suffix in (".whl", ".zip"):
        try:
            with zipfile.ZipFile(artifact) as archive:
                return archive.read(member)
        except KeyError as exc:
            raise Failure(f"{artifact.name} has no {member}") from exc
    raise Failure(f"{artifact.name}: unknown kind of archive")


def _utf16_to_utf8(data: bytes) -> bytes:
    if not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise Failure("utf16-to-utf8: the file has no UTF-16 byte order mark")
    return data.decode("utf-16").encode("utf-8")


CONVERSIONS = {
    "bunzip2": bz2.decompress,
    "gunzip": gzip.decompress,
    "unxz": lzma.decompress,
    "utf16-to-utf8": _utf16_to_utf8,
}


def convert(data: bytes, steps: str) -> bytes:
    """Apply ``steps`` ("none", or names of CONVERSIONS joined by "+") in order."""
    if steps in ("", "none"):
        return data
    for step in steps.split("+"):
        if step not in CONVERSIONS:
            raise Failure(f"unknown conversion {step!r} (known: {', '.join(CONVERSIONS)})")
        try:
            data = CONVERSIONS[step](data)
        except (OSError, EOFError, ValueError, lzma.LZMAError) as exc:
            raise Failure(f"{step}: {exc}") from exc
    return data


# ---- the corpus folder ------------------------------------------------------------------


def sha256_of(path: Path) -> str | None:
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def get(dest: Path, manifest: Path | None = None, log=print) -> dict[str, str]:
    """Make every registry file present in ``dest``; return {name: "present" | "written"}."""
    wanted = registry_files(manifest)
    dest.mkdir(parents=True, exist_ok=True)
    done: dict[str, str] = {}
    missing = {
        name: source
        for name, source in wanted.items()
        if sha256_of(dest / name) != source["sha256"]
    }
    for name in wanted.keys() - missing.keys():
        done[name] = "present"
    with tempfile.TemporaryDirectory(prefix="real-corpus-") as tmp:
        artifacts: dict[tuple[str, ...], Path] = {}
        for name, source in missing.items():
            key = (source["registry"], source["package"], source["version"], source["artifact"])
            if key not in artifacts:
                workdir = Path(tmp) / str(len(artifacts))
                workdir.mkdir()
                artifacts[key] = download(source, workdir)
            data = convert(extract(artifacts[key], source["path"]), source.get("convert", ""))
            got = hashlib.sha256(data).hexdigest()
            if got != source["sha256"]:
                raise Failure(
                    f"{name}: sha256 {got} of {source['path']} in {source['artifact']}"
                    f" is not the manifest's {source['sha256']}"
                )
            part = dest / (name + ".part")
            part.write_bytes(data)
            part.replace(dest / name)
            done[name] = "written"
    for name in wanted:
        log(
            f"{name}: {done[name]} ({wanted[name]['registry']} {wanted[name]['package']} "
            f"{wanted[name]['version']})"
        )
    return done


def default_dest() -> Path:
    return Path(os.environ.get("TRACKER_REAL_CORPUS") or CACHE)


def main(argv: list[str]) -> int:
    if len(argv) > 1 or (argv and argv[0].startswith("-")):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    dest = Path(argv[0]) if argv else default_dest()
    try:
        get(dest)
    except Failure as exc:
        print(f"get_real_corpus: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"get_real_corpus: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
