"""Fetching a release with TUF's client (``tuf.ngclient``): every byte checked against signed metadata.

A new :class:`tuf.ngclient.Updater` is made for each cycle (``refresh()`` runs once per Updater),
bootstrapped from the root shipped with the device; newer roots it learns are kept in its
metadata directory. It refuses tampered files, rollbacks to older metadata, frozen (expired)
metadata, mixed metadata versions and files longer than declared; both of its error families
(``RepositoryError``, ``DownloadError``) become :class:`FetchError`.

Two transports: :class:`HttpFetcher` (the content server, with the device key) and
:class:`DirectoryFetcher` (a USB stick): the same client verifies both.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import requests
from pydantic import ValidationError
from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import TargetFile
from tuf.ngclient import Updater
from tuf.ngclient.fetcher import FetcherInterface

from schedules.protocol.release import ReleaseIndex, release_target_path
from signage_player.errors import PlayerError
from signage_player.files import fsync_dir

log = logging.getLogger(__name__)
_CHUNK = 256 * 1024


class FetchError(PlayerError):
    """The release could not be fetched, or what came did not verify (then ``refused`` is True)."""

    def __init__(self, message: str, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


class ReleaseNotSigned(FetchError):
    """No signed release of that version for this platform."""


class HttpFetcher(FetcherInterface):
    """TUF downloads over requests, authenticated with the device key; counts bytes as they arrive."""

    def __init__(
        self,
        session: requests.Session,
        headers: dict[str, str] | None = None,
        timeout_s: float = 30.0,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        self._session = session
        self._headers = dict(headers or {})
        self._timeout = timeout_s
        self._on_bytes = on_bytes

    def _fetch(self, url: str) -> Iterator[bytes]:
        try:
            response = self._session.get(url, headers=self._headers, stream=True, timeout=self._timeout)
        except requests.Timeout as exc:
            raise tuf_errors.SlowRetrievalError(f"{url}: {exc}") from exc
        if response.status_code >= 400:
            response.close()
            raise tuf_errors.DownloadHTTPError(
                f"HTTP {response.status_code} from {url}", response.status_code
            )
        return self._chunks(response)

    def _chunks(self, response: requests.Response) -> Iterator[bytes]:
        try:
            for chunk in response.iter_content(_CHUNK):
                if self._on_bytes is not None:
                    self._on_bytes(len(chunk))
                yield chunk
        except requests.RequestException as exc:
            raise tuf_errors.DownloadError(f"download broke off: {exc}") from exc
        finally:
            response.close()


class DirectoryFetcher(FetcherInterface):
    """TUF downloads from a directory (a USB stick); a missing file answers like HTTP 404."""

    BASE = "usb://stick/"

    def __init__(self, root: Path) -> None:
        self._root = Path(root).resolve()

    def _fetch(self, url: str) -> Iterator[bytes]:
        if not url.startswith(self.BASE):
            raise tuf_errors.DownloadHTTPError(f"{url}: not on the stick", 404)
        path = (self._root / url.removeprefix(self.BASE)).resolve()
        if not path.is_relative_to(self._root) or not path.is_file():
            raise tuf_errors.DownloadHTTPError(f"{url}: not on the stick", 404)
        return self._read(path)

    @staticmethod
    def _read(path: Path) -> Iterator[bytes]:
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                yield chunk


@dataclass(frozen=True)
class FetchedRelease:
    index: ReleaseIndex
    wheels: dict[str, Path]  # file name -> verified wheel in the cache
    downloaded: tuple[str, ...]  # the wheels that had to be downloaded this time


@dataclass(frozen=True)
class Source:
    """Where a release comes from: metadata and targets base URLs, and the transport."""

    metadata_url: str
    targets_url: str
    fetcher: FetcherInterface

    @classmethod
    def server(cls, base_url: str, fetcher: FetcherInterface) -> Source:
        base = base_url.rstrip("/") + "/api/v1/updates"
        return cls(base + "/metadata/", base + "/targets/", fetcher)

    @classmethod
    def directory(cls, root: Path) -> Source:
        base = DirectoryFetcher.BASE
        return cls(base + "metadata/", base + "targets/", DirectoryFetcher(root))


class ReleaseFetcher:
    """Fetches one release's index and wheels into the device's wheel cache, all verified by TUF."""

    def __init__(
        self,
        metadata_dir: Path,
        wheels_dir: Path,
        releases_dir: Path,
        trusted_root: bytes,
        checkpoint: Callable[[str], None] | None = None,
    ) -> None:
        self.metadata_dir = Path(metadata_dir)
        self.wheels_dir = Path(wheels_dir)
        self.releases_dir = Path(releases_dir)
        self.trusted_root = trusted_root
        self._checkpoint = checkpoint or (lambda _step: None)

    def _updater(self, source: Source) -> Updater:
        for d in (self.metadata_dir, self.wheels_dir, self.releases_dir):
            d.mkdir(parents=True, exist_ok=True)
        return Updater(
            str(self.metadata_dir),
            source.metadata_url,
            str(self.wheels_dir),
            source.targets_url,
            source.fetcher,
            bootstrap=self.trusted_root,
        )

    def fetch(self, source: Source, version: str, platform: str) -> FetchedRelease:
        try:
            return self._fetch(self._updater(source), version, platform)
        except (tuf_errors.RepositoryError, tuf_errors.DownloadError) as exc:
            refused = isinstance(exc, tuf_errors.RepositoryError | tuf_errors.DownloadLengthMismatchError)
            kind = "refused" if refused else "failed"
            message = f"release {version}: {kind}: {type(exc).__name__}: {exc}"
            raise FetchError(message, refused=refused) from exc
        except OSError as exc:
            raise FetchError(f"release {version}: {exc}") from exc

    def _fetch(self, updater: Updater, version: str, platform: str) -> FetchedRelease:
        updater.refresh()
        self._checkpoint("fetch:refreshed")
        info = updater.get_targetinfo(release_target_path(version, platform))
        if info is None:
            raise ReleaseNotSigned(f"no signed release {version} for {platform}")
        index_path = self._get(updater, info, self.releases_dir / f"{version}-{platform}.json")
        try:
            index = ReleaseIndex.model_validate_json(index_path.read_bytes())
        except ValidationError as exc:
            raise FetchError(f"release {version}: signed index is malformed: {exc}", refused=True) from exc
        if (index.version, index.platform) != (version, platform):
            raise FetchError(
                f"release {version}: the index is for {index.version}/{index.platform}", refused=True
            )
        wheels: dict[str, Path] = {}
        downloaded: list[str] = []
        for ref in index.wheels:
            winfo = updater.get_targetinfo(ref.target_path)
            if winfo is None or (winfo.length, winfo.hashes.get("sha256")) != (ref.size, ref.sha256):
                raise FetchError(f"{ref.filename}: not signed as the release index lists it", refused=True)
            dest = self.wheels_dir / ref.filename
            if updater.find_cached_target(winfo, str(dest)) is None:
                self._get(updater, winfo, dest)
                downloaded.append(ref.filename)
            wheels[ref.filename] = dest
        self._checkpoint("fetch:done")
        return FetchedRelease(index, wheels, tuple(downloaded))

    def _get(self, updater: Updater, info: TargetFile, dest: Path) -> Path:
        """Download a verified target next to ``dest`` and rename it into place (never a partial file)."""
        if updater.find_cached_target(info, str(dest)) is not None:
            return dest
        part = dest.with_name(f".{dest.name}.part")
        self._checkpoint(f"fetch:{dest.name}")
        updater.download_target(info, str(part))
        with open(part, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(part, dest)
        fsync_dir(dest.parent)
        log.info("update: %s downloaded and verified (%d bytes)", info.path, info.length)
        return dest
