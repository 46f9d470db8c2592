"""Idempotent demo seeding through the server's own services and HTTP API (never raw SQL).

Two stages, both safe to run again (a second run finds everything and changes nothing):

1. :func:`seed_accounts` and :func:`seed_kiosk_catalogue` run in-process on the migrated
   database before the server starts (the same ``accounts.services.create_user`` the
   ``create-user`` CLI uses).
2. :class:`DemoApi` then talks to the running server as its users do: devices pair through the
   real pairing routes and an operator claims their codes; merchants upload media and book
   campaigns, the operator posts announcements and approves the campaigns.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from sqlalchemy.engine import Engine

from schedules.model import Orientation, ScreenClass
from schedules.protocol.device import PairingRequest, PairingStarted, PairingStatus
from signage_demo.content import Slide, content
from signage_demo.errors import DemoError
from signage_demo.media import DemoMedia

log = logging.getLogger(__name__)

API = "/api/v1"
DEMO_VERSION = "demo-launcher"


class SeedError(DemoError):
    """The demo could not be seeded (the server refused a request the demo relies on)."""


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: str
    display_name: str


# The log-ins the launcher prints. Demo-only passwords: the server refuses demo mode's
# insecure defaults outside SIGNAGE_DEMO=1, and these accounts exist only in var/demo.
OPERATOR = DemoAccount("operator", "operator-demo", "operator", "幸福里物业 Property office")
ADVERTISERS = (
    DemoAccount("bakery", "bakery-demo", "advertiser", "阳光烘焙 Sunshine Bakery"),
    DemoAccount("pharmacy", "pharmacy-demo", "advertiser", "康宁大药房 Kangning Pharmacy"),
    DemoAccount("laundry", "laundry-demo", "advertiser", "洁净洗衣 CleanPress Laundry"),
)
CLERK = DemoAccount("clerk", "clerk-demo", "clerk", "社区政务窗口 Gov. affairs desk")
PROVIDER = DemoAccount("provider", "provider-demo", "provider", "安心家政 AnXin Home Services")
ACCOUNTS: tuple[DemoAccount, ...] = (OPERATOR, *ADVERTISERS, CLERK, PROVIDER)


@dataclass(frozen=True)
class DemoDevice:
    """A device the demo runs: its process name, kind and the settings the operator claims it with."""

    name: str  # directory name under var/demo/ and screens/
    kind: str  # "player" or "kiosk"
    title: str
    screen_class: ScreenClass
    orientation: Orientation
    width: int
    height: int
    groups: tuple[str, ...]
    tags: tuple[str, ...]

    def claim_body(self) -> dict[str, Any]:
        return {
            "name": self.title,
            "screen_class": self.screen_class.value,
            "orientation": self.orientation.value,
            "width": self.width,
            "height": self.height,
            "groups": list(self.groups),
            "tags": list(self.tags),
            "timezone": "Asia/Shanghai",
        }


DEVICES: tuple[DemoDevice, ...] = (
    DemoDevice(
        "outdoor",
        "player",
        "东门户外大屏 East Gate Outdoor",
        ScreenClass.OUTDOOR_LARGE,
        Orientation.LANDSCAPE,
        1920,
        1080,
        ("outdoor",),
        ("building:gate", "area:east"),
    ),
    DemoDevice(
        "lobby",
        "player",
        "3号楼大堂 Building 3 Lobby",
        ScreenClass.INDOOR_SMALL,
        Orientation.PORTRAIT,
        1080,
        1920,
        ("lobby",),
        ("building:3", "floor:1"),
    ),
    DemoDevice(
        "kiosk",
        "kiosk",
        "服务中心自助终端 Service Centre Kiosk",
        ScreenClass.KIOSK,
        Orientation.LANDSCAPE,
        1920,
        1080,
        ("kiosk",),
        ("building:centre",),
    ),
)


# --------------------------------------------------------------------------- stage 1: in-process


@contextmanager
def _engine(database_url: str) -> Iterator[Engine]:
    """An engine on the demo database, disposed afterwards (the server opens its own)."""
    from content_server.core.db import make_engine

    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def migrate_database(database_url: str) -> None:
    """Apply the server's migrations (the same call `signage-server migrate` makes)."""
    from content_server.core import migrate

    with _engine(database_url) as engine:
        migrate.upgrade(engine)


def seed_accounts(
    database_url: str, now: dt.datetime, accounts: Iterable[DemoAccount] = ACCOUNTS
) -> list[str]:
    """Create the demo accounts that do not exist yet (approved); return the usernames created."""
    from sqlalchemy import select

    from content_server.accounts.services import create_user
    from content_server.core.db import make_sessionmaker
    from content_server.core.models import User

    created: list[str] = []
    with _engine(database_url) as engine, make_sessionmaker(engine)() as session:
        for account in accounts:
            if session.scalar(select(User).where(User.username == account.username)) is not None:
                continue
            create_user(
                session,
                username=account.username,
                password=account.password,
                role=account.role,
                now=now,
                approved=True,
                display_name=account.display_name,
            )
            created.append(account.username)
    return created


def seed_kiosk_catalogue(database_url: str, now: dt.datetime) -> bool:
    """Seed the kiosk's service catalogue (:mod:`signage_demo.kiosk_catalogue` skips a seeded one)."""
    from content_server.core.db import make_sessionmaker
    from signage_demo.kiosk_catalogue import seed_demo_catalogue

    with _engine(database_url) as engine, make_sessionmaker(engine)() as session:
        seed_demo_catalogue(session, now)
        session.commit()
    return True


# --------------------------------------------------------------------------- stage 2: HTTP API


class ApiError(SeedError):
    def __init__(self, status: int, method: str, path: str, detail: str) -> None:
        super().__init__(f"{method} {path} -> {status}: {detail}")
        self.status = status


@dataclass
class DemoApi:
    """A small JSON client for the server's API, logged in as one account."""

    base_url: str
    timeout_s: float = 30.0
    token: str | None = None
    http: requests.Session = field(default_factory=requests.Session)
    library: dict[str, dict[str, Any]] | None = None  # this user's media by SHA-256, once listed
    _paths: set[str] | None = None

    def close(self) -> None:
        self.http.close()

    def url(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}{API}{path}"

    def request(self, method: str, path: str, *, ok: tuple[int, ...] = (200, 201, 204), **kw: Any) -> Any:
        headers = dict(kw.pop("headers", {}) or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        r = self.http.request(method, self.url(path), headers=headers, timeout=self.timeout_s, **kw)
        if r.status_code not in ok:
            try:
                detail = r.json().get("detail", r.text)
            except ValueError:
                detail = r.text[:300]
            raise ApiError(r.status_code, method, path, str(detail))
        if r.status_code == 204 or not r.content:
            return None
        return r.json()

    def login(self, account: DemoAccount) -> DemoApi:
        """A new client holding a bearer token for `account` (sharing this one's base URL)."""
        other = DemoApi(self.base_url, self.timeout_s)
        body = other.request(
            "POST", "/auth/token", json={"username": account.username, "password": account.password}
        )
        other.token = body.get("token") or body.get("access_token")
        if not other.token:
            raise SeedError(f"/auth/token for {account.username} returned no token: {sorted(body)}")
        return other

    def has(self, method: str, path: str) -> bool:
        """Whether the server's OpenAPI document lists `method path` (relative to /api/v1)."""
        if self._paths is None:
            doc = self.http.get(self.url("/openapi.json"), timeout=self.timeout_s).json()
            self._paths = {f"{m.upper()} {p}" for p, ops in doc.get("paths", {}).items() for m in ops}
        return f"{method.upper()} {API}{path}" in self._paths

    def wait_healthy(self, timeout_s: float, alive: Any = None) -> float:
        """Poll /health until it answers; return the seconds waited. `alive()` False aborts early."""
        start = time.monotonic()
        while True:
            try:
                r = self.http.get(self.url("/health"), timeout=2)
                if r.status_code == 200:
                    return time.monotonic() - start
            except requests.RequestException:
                pass
            if alive is not None and not alive():
                raise SeedError("the content server exited (or a stop was requested) during start-up")
            if time.monotonic() - start > timeout_s:
                raise SeedError(f"the content server did not answer /health within {timeout_s:.0f} s")
            time.sleep(0.2)


# --------------------------------------------------------------------------- devices


def pair_device(api: DemoApi, operator: DemoApi, device: DemoDevice, data_dir: Path) -> str:
    """Pair the device whose identity lives in `data_dir`, unless it is already a live screen.

    Does what a technician does on site: the device asks for a code with its own public key,
    the operator claims the code, the device polls for its key. The device's identity file is
    written with the player's own :class:`~signage_player.identity.DeviceIdentity`.
    """
    from signage_player.identity import DeviceIdentity

    data_dir.mkdir(parents=True, exist_ok=True)
    identity = DeviceIdentity.load_or_create(data_dir)
    if identity.paired and identity.device_id:
        try:
            screen = operator.request("GET", f"/screens/{identity.device_id}")
        except ApiError as exc:
            if exc.status != 404:
                raise
            screen = None
        if screen is not None and not screen.get("revoked"):
            log.info("%s: already paired as %s", device.name, identity.device_id)
            return identity.device_id
        log.info("%s: server no longer knows device %s; pairing again", device.name, identity.device_id)
        identity = identity.forget_pairing()
    request = PairingRequest(
        device_kind=device.kind, player_version=DEMO_VERSION, public_key=identity.public_key_b64
    )
    started = PairingStarted.model_validate(
        api.request("POST", "/devices/pairing", json=request.model_dump(mode="json"))
    )
    operator.request("POST", "/screens/claim", json={"code": started.code, **device.claim_body()})
    status = PairingStatus.model_validate(
        api.request(
            "POST", f"/devices/pairing/{started.pairing_id}/poll", json={"poll_secret": started.poll_secret}
        )
    )
    if not status.claimed or not status.device_id or not status.device_key:
        raise SeedError(f"{device.name}: pairing code {started.code} was claimed but no key came back")
    identity.with_pairing(status.device_id, status.device_key, status.server_public_key).save(data_dir)
    log.info("%s: paired as %s with code %s", device.name, status.device_id, started.code)
    return status.device_id


# --------------------------------------------------------------------------- content


CONTENT_ROUTES = (("POST", "/media"), ("POST", "/announcements"), ("POST", "/campaigns"))

# Which screens get which orientation of a piece of artwork (the outdoor screen is landscape,
# the lobby screen and the kiosk's attract loop are portrait).
LANDSCAPE_CLASSES = (ScreenClass.OUTDOOR_LARGE.value,)
PORTRAIT_CLASSES = (ScreenClass.INDOOR_SMALL.value, ScreenClass.KIOSK.value)
ORIENTATIONS = (("landscape", LANDSCAPE_CLASSES), ("portrait", PORTRAIT_CLASSES))
# Shares of loop time per campaign. Three merchants x (image + video) = 45 % fits every
# class's max_ad_share (indoor_small allows 50 %), leaving the rest to announcements and fillers.
IMAGE_SHARE_PERCENT = 10.0
VIDEO_SHARE_PERCENT = 5.0
FLIGHT_DAYS = 60


# A text-only notice: the player sets it in type itself (Qt, Noto Sans CJK), no image involved.
TEXT_NOTICE: dict[str, Any] = {
    "title": "3号楼电梯维保 Building 3 lift maintenance",
    "text": {
        "zh": "3号楼1号电梯本周四 9:00–12:00 维护保养，请使用2号电梯。给您带来不便，敬请谅解。",
        "en": "Building 3, lift 1 is serviced on Thursday 9:00–12:00. Please use lift 2.",
    },
    "ticker_text": {
        "zh": "3号楼1号电梯周四上午维保，请使用2号电梯",
        "en": "Lift 1 in building 3: service on Thursday morning",
    },
    "duration_s": 10,
    "targeting": {"screen_classes": [ScreenClass.INDOOR_SMALL.value]},
}


@dataclass
class SeedReport:
    """What a seeding pass did; a second run reports only ``found`` entries."""

    created: list[str] = field(default_factory=list)
    found: list[str] = field(default_factory=list)

    def note(self, created: bool, what: str) -> None:
        (self.created if created else self.found).append(what)

    def summary(self) -> str:
        return f"{len(self.created)} created, {len(self.found)} already there"


def _missing_routes(api: DemoApi, routes: Iterable[tuple[str, str]]) -> list[str]:
    return [f"{m} {p}" for m, p in routes if not api.has(m, p)]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def upload(client: DemoApi, path: Path, title: str, report: SeedReport) -> dict[str, Any]:
    """Upload a file as its owner unless its library already holds the same bytes (by SHA-256)."""
    if client.library is None:
        client.library = {m["sha256"]: m for m in client.request("GET", "/media")}
    known = client.library.get(file_sha256(path))
    if known is not None:
        report.note(False, f"media {path.name}")
        return known
    with path.open("rb") as fh:
        r = client.http.post(
            client.url("/media"),
            params={"filename": path.name, "title": title},
            data=fh,
            headers={"Authorization": f"Bearer {client.token}", "Content-Type": "application/octet-stream"},
            timeout=client.timeout_s * 4,
        )
    if r.status_code not in (200, 201):
        raise ApiError(r.status_code, "POST", f"/media ({path.name})", r.text[:300])
    report.note(r.status_code == 201, f"media {path.name}")
    body: dict[str, Any] = r.json()
    client.library[body["sha256"]] = body
    return body


def _announcement(
    operator: DemoApi,
    slide: Slide,
    orientation: str,
    classes: tuple[str, ...],
    media_id: str,
    now: dt.datetime,
    existing: dict[str, dict[str, Any]],
    report: SeedReport,
) -> None:
    title = f"{slide.title_zh} {slide.title_en} ({orientation})"
    if title in existing:
        report.note(False, f"announcement {title}")
        return
    operator.request(
        "POST",
        "/announcements",
        json={
            "title": title,
            "media_ids": [media_id],
            "ticker_text": {
                "zh": f"{slide.title_zh}：{slide.body_zh}",
                "en": f"{slide.title_en}: {slide.body_en}",
            },
            "duration_s": 12,
            "priority": "important" if slide.key == "water_outage" else "normal",
            "valid_from": (now - dt.timedelta(hours=1)).isoformat(),
            "valid_until": (now + dt.timedelta(days=FLIGHT_DAYS)).isoformat(),
            "targeting": {"screen_classes": list(classes)},
        },
    )
    report.note(True, f"announcement {title}")


def _campaign(
    operator: DemoApi,
    advertiser: DemoApi,
    name: str,
    category: str,
    media_ids: list[str],
    classes: tuple[str, ...],
    now: dt.datetime,
    report: SeedReport,
    share_percent: float = IMAGE_SHARE_PERCENT,
) -> None:
    """Book (as the merchant) and approve (as the operator) one campaign, unless it exists."""
    mine = {c["name"]: c for c in advertiser.request("GET", "/campaigns")}
    campaign = mine.get(name)
    if campaign is None:
        today = now.date()
        body = {
            "name": name,
            "category": category,
            "media_ids": media_ids,
            "flight_start": today.isoformat(),
            "flight_end": (today + dt.timedelta(days=FLIGHT_DAYS)).isoformat(),
            "targeting": {"screen_classes": list(classes)},
            "share_percent": share_percent,
        }
        try:
            campaign = advertiser.request("POST", "/campaigns", json=body)
        except ApiError as exc:
            if exc.status != 409:
                raise
            # The server's availability check said no: a real outcome, shown, not fatal.
            log.warning("campaign %s not booked: %s", name, exc)
            report.note(False, f"campaign {name} (refused: {exc})")
            return
        report.note(True, f"campaign {name}")
    else:
        report.note(False, f"campaign {name}")
    if campaign["state"] == "pending":
        operator.request(
            "POST",
            f"/campaigns/{campaign['id']}/approve",
            json={"reason": "Demo: approved by the property office"},
        )
        report.note(True, f"approval of {name}")


def seed_content(api: DemoApi, operator: DemoApi, media: DemoMedia, now: dt.datetime) -> SeedReport | None:
    """Fillers, announcements, merchants' image ads and approved campaigns; None if routes are missing."""
    missing = _missing_routes(api, CONTENT_ROUTES)
    if missing:
        log.warning("content: the server has no %s yet; screens show their default slide", ", ".join(missing))
        return None
    report = SeedReport()
    for slide in content().fillers:
        for orientation, path in zip(("landscape", "portrait"), media.fillers[slide.key], strict=True):
            row = upload(operator, path, f"{slide.title_zh} {slide.title_en} ({orientation})", report)
            if not row.get("filler"):
                operator.request("PATCH", f"/media/{row['id']}", json={"filler": True})
    existing = {a["title"]: a for a in operator.request("GET", "/announcements")}
    for slide in content().announcements:
        for (orientation, classes), path in zip(ORIENTATIONS, media.announcements[slide.key], strict=True):
            row = upload(operator, path, f"{slide.title_zh} ({orientation})", report)
            _announcement(operator, slide, orientation, classes, row["id"], now, existing, report)
    if TEXT_NOTICE["title"] in existing:
        report.note(False, f"announcement {TEXT_NOTICE['title']}")
    else:
        operator.request(
            "POST",
            "/announcements",
            json={
                **TEXT_NOTICE,
                "valid_from": (now - dt.timedelta(hours=1)).isoformat(),
                "valid_until": (now + dt.timedelta(days=FLIGHT_DAYS)).isoformat(),
            },
        )
        report.note(True, f"announcement {TEXT_NOTICE['title']}")
    for merchant, account in zip(content().merchants, ADVERTISERS, strict=True):
        advertiser = api.login(account)
        try:
            for i, (orientation, classes) in enumerate(ORIENTATIONS):
                ids = [
                    upload(
                        advertiser, media.ad_images[scene.key][i], f"{scene.title_zh} ({orientation})", report
                    )["id"]
                    for scene in merchant.scenes
                ]
                _campaign(
                    operator,
                    advertiser,
                    f"{merchant.name_zh} {merchant.name_en} ({orientation})",
                    merchant.category,
                    ids,
                    classes,
                    now,
                    report,
                )
        finally:
            advertiser.close()
    log.info("content: %s", report.summary())
    return report


def seed_videos(
    api: DemoApi, operator: DemoApi, videos: dict[str, tuple[Path, Path]], now: dt.datetime
) -> SeedReport | None:
    """Upload the merchants' ad videos and book each as a second approved campaign."""
    missing = _missing_routes(api, CONTENT_ROUTES)
    if missing:
        log.warning("ad videos: the server has no %s yet; not seeded", ", ".join(missing))
        return None
    report = SeedReport()
    for merchant, account in zip(content().merchants, ADVERTISERS, strict=True):
        advertiser = api.login(account)
        try:
            for (orientation, classes), path in zip(ORIENTATIONS, videos[merchant.key], strict=True):
                row = upload(advertiser, path, f"{merchant.name_zh} video ({orientation})", report)
                _campaign(
                    operator,
                    advertiser,
                    f"{merchant.name_zh} {merchant.name_en} video ({orientation})",
                    merchant.category,
                    [row["id"]],
                    classes,
                    now,
                    report,
                    share_percent=VIDEO_SHARE_PERCENT,
                )
        finally:
            advertiser.close()
    log.info("ad videos: %s", report.summary())
    return report


# --------------------------------------------------------------------------- service provider

PROVIDER_PROFILE = {"name_zh": "安心家政", "name_en": "AnXin Home Services", "phone": "02160000099"}
SERVICE_MINUTES = 180
PROVIDER_SERVICE: dict[str, Any] = {
    "category_id": "housekeeping",
    "name_zh": "冬季深度保洁（3小时）",
    "name_en": "Winter deep clean (3 hours)",
    "description_zh": "厨房油污、卫生间除垢、窗户擦洗，自带清洁工具。",
    "description_en": "Kitchen grease, bathroom descaling and windows; we bring the tools.",
    "price_minor": 19900,
    "duration_minutes": SERVICE_MINUTES,
}
SLOT_HOURS = (9, 14)  # local start times of the bookable slots, each day
SLOT_DAYS = 3
PROVIDER_ROUTES = (("PUT", "/provider/profile"), ("POST", "/provider/services"))


def seed_provider(
    api: DemoApi, icon: Path | None, now: dt.datetime, tz: str = "Asia/Shanghai"
) -> SeedReport | None:
    """The demo provider's profile, one bookable service and its slots for the next days.

    Through the provider API, as the provider would in the portal; the service shows up in the
    kiosk catalogue. Slots already there (same start) are not added again.
    """
    from zoneinfo import ZoneInfo

    missing = _missing_routes(api, PROVIDER_ROUTES)
    if missing:
        log.warning("provider: the server has no %s yet; not seeded", ", ".join(missing))
        return None
    report = SeedReport()
    provider = api.login(PROVIDER)
    try:
        provider.request("PUT", "/provider/profile", json=PROVIDER_PROFILE)
        services = {s["name_en"]: s for s in provider.request("GET", "/provider/services")}
        service = services.get(PROVIDER_SERVICE["name_en"])
        if service is None:
            body: dict[str, Any] = dict(PROVIDER_SERVICE)
            if icon is not None and icon.is_file():
                with icon.open("rb") as fh:
                    image = provider.request(
                        "POST",
                        "/provider/images",
                        data=fh,
                        headers={"Content-Type": "application/octet-stream"},
                    )
                body["image_sha256"] = image["sha256"]
            service = provider.request("POST", "/provider/services", json=body)
        report.note(service["name_en"] not in services, f"service {PROVIDER_SERVICE['name_en']}")
        taken = {dt.datetime.fromisoformat(s["start"]) for s in service["slots"]}
        zone = ZoneInfo(tz)
        today = now.astimezone(zone).date()
        for day in range(1, SLOT_DAYS + 1):
            for hour in SLOT_HOURS:
                start = dt.datetime.combine(today + dt.timedelta(days=day), dt.time(hour), zone)
                if start in taken:
                    report.note(False, f"slot {start:%m-%d %H:%M}")
                    continue
                end = start + dt.timedelta(minutes=SERVICE_MINUTES)
                provider.request(
                    "POST",
                    f"/provider/services/{service['id']}/slots",
                    json={"start": start.isoformat(), "end": end.isoformat(), "capacity": 2},
                )
                report.note(True, f"slot {start:%m-%d %H:%M}")
    finally:
        provider.close()
    log.info("provider: %s", report.summary())
    return report
