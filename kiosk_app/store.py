"""What the kiosk keeps on disk for offline use: the catalogue, service images and case statuses seen.

Files are written atomically (the device's ``atomic_write``). Case statuses hold only the
server's masked data and are filed under a hash of case number + ID digits, so the cache
cannot be browsed without both; they are forgotten after ``case_retention``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from schedules.protocol.kiosk import CaseStatus, ServiceCatalogue
from signage_player import atomic_write

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CachedCatalogue:
    catalogue: ServiceCatalogue
    etag: str | None
    fetched_at: dt.datetime  # when the server last confirmed it


class CatalogueStore:
    """The last catalogue the server sent, with its ETag and when it was confirmed, plus images."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.images = self.directory / "images"

    def load(self) -> CachedCatalogue | None:
        path = self.directory / "catalogue.json"
        try:
            doc = json.loads(path.read_text())
            return CachedCatalogue(
                ServiceCatalogue.model_validate(doc["catalogue"]),
                doc.get("etag"),
                dt.datetime.fromisoformat(doc["fetched_at"]),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, ValidationError) as exc:
            log.warning("ignoring a damaged catalogue cache %s: %s", path, exc)
            return None

    def save(self, cached: CachedCatalogue) -> None:
        doc = {
            "catalogue": cached.catalogue.model_dump(mode="json"),
            "etag": cached.etag,
            "fetched_at": cached.fetched_at.isoformat(),
        }
        atomic_write(self.directory / "catalogue.json", json.dumps(doc, ensure_ascii=False).encode(), 0o644)

    def image_path(self, service_id: str) -> Path:
        return self.images / f"{hashlib.sha256(service_id.encode()).hexdigest()[:32]}.img"

    def save_image(self, service_id: str, data: bytes) -> None:
        atomic_write(self.image_path(service_id), data, 0o644)

    def image(self, service_id: str) -> bytes | None:
        try:
            return self.image_path(service_id).read_bytes()
        except OSError:
            return None

    def clear(self) -> None:
        """Delete the saved catalogue and every image (fetched again at the next refresh)."""
        (self.directory / "catalogue.json").unlink(missing_ok=True)
        if self.images.exists():
            for p in self.images.iterdir():
                p.unlink(missing_ok=True)

    def size_bytes(self) -> int:
        if not self.directory.exists():
            return 0
        return sum(p.stat().st_size for p in self.directory.rglob("*") if p.is_file())


@dataclass(frozen=True)
class SeenCase:
    status: CaseStatus
    seen_at: dt.datetime


class CaseMemory:
    """The last status this kiosk saw for a case, for showing (clearly dated) while offline."""

    def __init__(self, directory: Path, retention: dt.timedelta = dt.timedelta(days=30)) -> None:
        self.directory = Path(directory)
        self.retention = retention

    def _path(self, case_number: str, id_last4: str) -> Path:
        digest = hashlib.sha256(f"{case_number.upper()}\0{id_last4.upper()}".encode()).hexdigest()
        return self.directory / f"{digest}.json"

    def remember(self, case_number: str, id_last4: str, status: CaseStatus, now: dt.datetime) -> None:
        doc = {"status": status.model_dump(mode="json"), "seen_at": now.isoformat()}
        atomic_write(self._path(case_number, id_last4), json.dumps(doc, ensure_ascii=False).encode())

    def recall(self, case_number: str, id_last4: str, now: dt.datetime) -> SeenCase | None:
        path = self._path(case_number, id_last4)
        try:
            doc = json.loads(path.read_text())
            seen = SeenCase(CaseStatus.model_validate(doc["status"]),
                            dt.datetime.fromisoformat(doc["seen_at"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, ValidationError) as exc:
            log.warning("ignoring a damaged case cache entry: %s", exc)
            return None
        if now - seen.seen_at > self.retention:
            path.unlink(missing_ok=True)
            return None
        return seen

    def prune(self, now: dt.datetime) -> int:
        """Forget statuses older than the retention; returns how many went."""
        gone = 0
        for path in self.directory.glob("*.json") if self.directory.exists() else ():
            try:
                seen_at = dt.datetime.fromisoformat(json.loads(path.read_text())["seen_at"])
            except (OSError, ValueError, KeyError, TypeError):
                seen_at = None
            if seen_at is None or now - seen_at > self.retention:
                path.unlink(missing_ok=True)
                gone += 1
        return gone
