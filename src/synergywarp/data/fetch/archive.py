"""Reading single regular files out of a tar (.tgz/.tar.gz) or zip archive, never extracting it whole.

Members are looked up by exact name; a name with ``..``, an absolute path, a link or a special file is
refused, so nothing an archive says can place a file outside the dataset folder.
"""

from __future__ import annotations

import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from synergywarp.data.fetch.table import check_member_name
from synergywarp.errors import FetchError

#: what a damaged archive raises while it is opened or read
ARCHIVE_READ_ERRORS = (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError, OSError)


class MemberReader:
    """An open tar or zip archive; :meth:`open` gives a binary stream of one regular member."""

    def __init__(self, path: Path, tar: tarfile.TarFile | None, zip_file: zipfile.ZipFile | None) -> None:
        self.path, self._tar, self._zip = path, tar, zip_file

    def open(self, member: str) -> IO[bytes]:
        """The bytes of ``member``; FetchError when it is absent, a link, a folder or a special file."""
        check_member_name(member)
        try:
            return self._open_regular(member)
        except KeyError:
            raise FetchError(f"{self.path.name} has no member {member}") from None
        except ARCHIVE_READ_ERRORS as error:
            raise damaged(self.path, error) from None

    def _open_regular(self, member: str) -> IO[bytes]:
        refused = FetchError(f"refusing {member} in {self.path.name}: a link, folder or special file, not a file")
        if self._tar is not None:
            info = self._tar.getmember(member)
            stream = self._tar.extractfile(info) if info.isreg() else None
            if stream is None:
                raise refused
            return stream
        assert self._zip is not None
        zinfo = self._zip.getinfo(member)
        file_type = stat.S_IFMT(zinfo.external_attr >> 16)  # 0 when the zip records no Unix file type
        if zinfo.is_dir() or file_type not in (0, stat.S_IFREG):
            raise refused
        return self._zip.open(zinfo)


def damaged(path: Path, error: BaseException) -> FetchError:
    return FetchError(f"{path.name} is damaged or not a tar/zip archive ({' '.join(str(error).split())})")


@contextmanager
def open_archive(path: Path) -> Iterator[MemberReader]:
    """Open a zip or (compressed) tar archive; FetchError when it is neither or is damaged.

    Errors while reading a member's stream are the caller's to catch (:data:`ARCHIVE_READ_ERRORS`)."""
    try:
        archive: tarfile.TarFile | zipfile.ZipFile
        if zipfile.is_zipfile(path):
            archive = zipfile.ZipFile(path)
            reader = MemberReader(path, None, archive)
        else:
            archive = tarfile.open(path, mode="r:*")
            reader = MemberReader(path, archive, None)
    except ARCHIVE_READ_ERRORS as error:
        raise damaged(path, error) from None
    with archive:
        yield reader
