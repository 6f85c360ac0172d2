"""A fake npm registry + PyPI simple index served from a local http.server thread, with tiny archives.

Three packages: ``fakeclm`` on npm (a .tgz with a ``package/`` top folder), ``faketool`` on PyPI (a
.tar.gz sdist) and ``zippkg`` on PyPI (a .zip sdist). Each carries a few small files to fetch and one
"reserved" file that the table does not list. :func:`make_table` builds the matching FileTable.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import json
import tarfile
import threading
import zipfile
from dataclasses import dataclass, field

from synergywarp.data.fetch import FileTable, PackageFile, RegistryPackage

NPM_PACKAGE = RegistryPackage("npm", "fakeclm", "1.0.0", "fakeclm-1.0.0.tgz", "MIT")
TAR_PACKAGE = RegistryPackage("pypi", "fake.tool", "0.1", "fake_tool-0.1.tar.gz", "BSD-3-Clause")
ZIP_PACKAGE = RegistryPackage("pypi", "zippkg", "2.0", "zippkg-2.0.zip", "MIT")

#: package → {member: bytes}; the members named "reserved" are in the archives but not in the table
CONTENTS: dict[RegistryPackage, dict[str, bytes]] = {
    NPM_PACKAGE: {
        "package/media/talk.mp4": b"talking head video bytes " * 40,
        "package/media/alice_1.jpg": b"\xff\xd8 alice photo one",
        "package/media/alice_2.jpg": b"\xff\xd8 alice photo two, another day",
        "package/media/reserved.jpg": b"\xff\xd8 reserved for independent evaluation",
    },
    TAR_PACKAGE: {
        "fake_tool-0.1/data/bob.mov": b"mjpeg mov bytes " * 30,
        "fake_tool-0.1/data/bob.jpg": b"\xff\xd8 bob photo",
        "fake_tool-0.1/data/bob.pts": b"version: 1\nn_points: 1\n{\n1 2\n}\n",
        "fake_tool-0.1/data/reserved.mov": b"reserved clip",
    },
    ZIP_PACKAGE: {
        "zippkg-2.0/clips/carol.mov": b"h264 mov bytes " * 20,
        "zippkg-2.0/clips/reserved.mov": b"another reserved clip",
    },
}

#: table rows: (package, member, identity, kind)
ROWS = (
    (NPM_PACKAGE, "package/media/talk.mp4", "alice", "video"),
    (NPM_PACKAGE, "package/media/alice_1.jpg", "alice", "still"),
    (NPM_PACKAGE, "package/media/alice_2.jpg", "alice", "still"),
    (TAR_PACKAGE, "fake_tool-0.1/data/bob.mov", "bob", "video"),
    (TAR_PACKAGE, "fake_tool-0.1/data/bob.jpg", "bob", "still"),
    (TAR_PACKAGE, "fake_tool-0.1/data/bob.pts", "bob", "landmarks"),
    (ZIP_PACKAGE, "zippkg-2.0/clips/carol.mov", "carol", "video"),
)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_table(rows=ROWS, contents=CONTENTS, test_identities=("carol",)) -> FileTable:
    """A FileTable pinning the fake packages' files (sha256 and size from ``contents``)."""
    files = tuple(
        PackageFile(package, member, identity, kind, sha256(contents[package][member]),
                    len(contents[package][member]), f"fake {kind} of {identity}")
        for package, member, identity, kind in rows
    )
    return FileTable("fake", files, tuple(test_identities), "other files of the fake packages are reserved")


def build_tgz(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    """A gzipped tar with regular members (name → bytes) and symbolic links (name → target)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buffer.getvalue()


def build_zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@dataclass
class FakeRegistry:
    """Routes of the fake server (path → body) and the paths it was asked for."""

    base: str = ""
    routes: dict[str, bytes] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    archives: dict[RegistryPackage, bytes] = field(default_factory=dict)

    @property
    def npm_url(self) -> str:
        return f"{self.base}/npm"

    @property
    def pypi_url(self) -> str:
        return f"{self.base}/simple"

    def publish(self, package: RegistryPackage, archive: bytes, advertised: bytes | None = None) -> None:
        """Serve ``archive`` for ``package``; the metadata gives the hash of ``advertised`` (default: archive)."""
        self.archives[package] = archive
        advertised = archive if advertised is None else advertised
        if package.registry == "npm":
            tarball = f"/npm/{package.name}/-/{package.archive}"
            integrity = "sha512-" + base64.b64encode(hashlib.sha512(advertised).digest()).decode()
            meta = {"name": package.name, "version": package.version,
                    "dist": {"tarball": self.base + tarball, "integrity": integrity,
                             "shasum": hashlib.sha1(advertised).hexdigest()}}
            self.routes[f"/npm/{package.name}/{package.version}"] = json.dumps(meta).encode()
            self.routes[tarball] = archive
        else:
            project = package.name.replace(".", "-").replace("_", "-").lower()
            files = [  # a wheel first, which must be ignored; the sdist's URL is relative like a mirror's
                {"filename": f"{package.archive.split('-')[0]}-{package.version}-py3-none-any.whl",
                 "url": "/files/wheel.whl", "hashes": {"sha256": "0" * 64}},
                {"filename": package.archive, "url": f"../../files/{package.archive}",
                 "hashes": {"sha256": sha256(advertised)}},
            ]
            self.routes[f"/simple/{project}/"] = json.dumps({"meta": {"api-version": "1.1"}, "files": files}).encode()
            self.routes[f"/files/{package.archive}"] = archive

    def archive_requests(self) -> list[str]:
        return [path for path in self.requests if path.startswith("/files/") or "/-/" in path]


def publish_all(registry: FakeRegistry, contents=CONTENTS) -> None:
    for package, members in contents.items():
        archive = build_zip(members) if package.archive.endswith(".zip") else build_tgz(members)
        registry.publish(package, archive)


def serve(registry: FakeRegistry) -> http.server.ThreadingHTTPServer:
    """Start serving ``registry`` on a free local port (in a daemon thread); sets ``registry.base``."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            registry.requests.append(self.path)
            body = registry.routes.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    registry.base = f"http://127.0.0.1:{server.server_address[1]}"
    return server
