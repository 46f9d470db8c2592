"""The real :class:`~signage_player.device_api.DeviceApi`: the device routes over HTTP (requests).

Every failure surfaces as a :class:`~signage_player.device_api.ClientError` subclass, so the
sync loop catches one family and retries with :class:`Backoff`. Shared by the player and the
kiosk (whose own routes build on it); tests that do not test the wire use the fake server in
:mod:`signage_player.device_api` instead.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import os
import time
from pathlib import Path
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

import requests
from pydantic import BaseModel, ValidationError

from schedules.model import ItemKind
from schedules.protocol.device import (
    CommandAck,
    CommandList,
    EmergencyState,
    Heartbeat,
    HeartbeatReply,
    Manifest,
    PairingPoll,
    PairingRequest,
    PairingStarted,
    PairingStatus,
    PlayBatch,
    PlayBatchResult,
    kinds_query,
)
from signage_player.device_api import (
    API,
    BadResponse,
    HttpStatusError,
    ManifestResult,
    NetworkError,
    Unauthorized,
    resume_from,
)

log = logging.getLogger(__name__)
_M = TypeVar("_M", bound=BaseModel)


class ServerClient:
    """The device routes over requests; satisfies :class:`~signage_player.device_api.DeviceApi`."""

    def __init__(
        self,
        base_url: str,
        device_key: str | None = None,
        session: requests.Session | None = None,
        timeout: float = 15.0,
        max_bytes_per_s: float | None = None,
        item_kinds: frozenset[ItemKind] = frozenset(),
    ) -> None:
        """``max_bytes_per_s`` caps download speed (players on metered or shared links);
        ``item_kinds`` are the optional kinds (web pages, streams) its manifest may hold."""
        self.kinds = kinds_query(item_kinds)
        self.base_url = base_url.rstrip("/") + "/"
        self.max_bytes_per_s = max_bytes_per_s
        self.device_key = device_key
        self.session = session or requests.Session()
        self.timeout = timeout

    def close(self) -> None:
        self.session.close()

    # -- pairing ----------------------------------------------------------------------------

    def start_pairing(self, device_kind: str, player_version: str, public_key: str) -> PairingStarted:
        body = PairingRequest(device_kind=device_kind, player_version=player_version, public_key=public_key)
        r = self._request("POST", f"{API}/devices/pairing", json=body.model_dump(mode="json"), auth=False,
                          ok=(200, 201))
        return _parse(PairingStarted, r)

    def poll_pairing(self, pairing_id: str, poll_secret: str) -> PairingStatus:
        body = PairingPoll(poll_secret=poll_secret).model_dump(mode="json")
        r = self._request("POST", f"{API}/devices/pairing/{pairing_id}/poll", json=body, auth=False)
        return _parse(PairingStatus, r)

    # -- content ----------------------------------------------------------------------------

    def manifest(self, etag: str | None = None) -> ManifestResult:
        headers = {"If-None-Match": etag} if etag else {}
        query = f"?kinds={self.kinds}" if self.kinds else ""
        r = self._request("GET", f"{API}/device/manifest{query}", headers=headers, ok=(200, 304))
        if r.status_code == 304:
            return ManifestResult(None, etag)
        return ManifestResult(_parse(Manifest, r), r.headers.get("ETag"))

    def asset_url(self, url: str) -> str:
        return urljoin(self.base_url, url.lstrip("/")) if "://" not in url else url

    def download(self, url: str, partial: Path, expected_size: int | None = None,
                 chunk_size: int = 256 * 1024) -> int:
        """Append the rest of ``url`` to ``partial`` (resuming with ``Range``); fsync; return its size.

        The caller verifies the hash: this only moves bytes.
        """
        have = resume_from(partial, expected_size)
        if have is None:
            return partial.stat().st_size
        headers = {"Range": f"bytes={have}-"} if have else {}
        full = self.asset_url(url)
        if self.device_key and _origin(full) == _origin(self.base_url):
            headers["Authorization"] = f"Bearer {self.device_key}"  # never to a CDN or another host
        try:
            with self.session.get(full, headers=headers, stream=True, timeout=self.timeout) as r:
                if r.status_code == 416:  # our partial is complete or bigger: start over
                    partial.unlink(missing_ok=True)
                    return self.download(url, partial, expected_size, chunk_size) if have else 0
                self._check(r, (200, 206))
                mode = "ab" if r.status_code == 206 and have else "wb"
                started, got = time.monotonic(), 0
                with open(partial, mode) as fh:
                    for chunk in r.iter_content(chunk_size):
                        fh.write(chunk)
                        got += len(chunk)
                        if self.max_bytes_per_s:
                            fh.flush()  # what arrived is kept even if the process dies while we wait
                            ahead = got / self.max_bytes_per_s - (time.monotonic() - started)
                            if ahead > 0:
                                time.sleep(ahead)
                    fh.flush()
                    os.fsync(fh.fileno())
        except requests.RequestException as exc:
            raise NetworkError(f"download of {full} failed: {exc}") from exc
        return partial.stat().st_size

    # -- reports ----------------------------------------------------------------------------

    def heartbeat(self, beat: Heartbeat) -> HeartbeatReply:
        r = self._request("POST", f"{API}/device/heartbeat", json=beat.model_dump(mode="json"))
        return _parse(HeartbeatReply, r)

    def send_plays(self, batch: PlayBatch) -> PlayBatchResult:
        r = self._request("POST", f"{API}/device/plays", json=batch.model_dump(mode="json"))
        return _parse(PlayBatchResult, r)

    def send_screenshot(self, png: bytes) -> None:
        self._request("POST", f"{API}/device/screenshot", data=png,
                      headers={"Content-Type": "image/png"}, ok=(200, 201, 204))

    def emergency(self, known: str | None, wait_s: float) -> EmergencyState:
        params = {"wait": str(int(wait_s))}
        if known:
            params["known"] = known
        r = self._request("GET", f"{API}/device/emergency", params=params, timeout=self.timeout + wait_s)
        return _parse(EmergencyState, r)

    def commands(self, after: int, wait_s: float) -> CommandList:
        params = {"after": str(after), "wait": str(int(wait_s))}
        r = self._request("GET", f"{API}/device/commands", params=params, timeout=self.timeout + wait_s)
        return _parse(CommandList, r)

    def ack_command(self, command_id: str, ack: CommandAck) -> None:
        if not command_id.isalnum():  # ids are hex from the server: nothing that could change the path
            raise HttpStatusError(404, "command ack", f"malformed command id {command_id[:40]!r}")
        self._request("POST", f"{API}/device/commands/{command_id}/ack", json=ack.model_dump(mode="json"),
                      ok=(200, 204))

    # -- plumbing ---------------------------------------------------------------------------

    def _request(self, method: str, path: str, *, auth: bool = True, ok: tuple[int, ...] = (200,),
                 headers: dict[str, str] | None = None, timeout: float | None = None,
                 **kw: object) -> requests.Response:
        url = urljoin(self.base_url, path.lstrip("/"))
        all_headers = dict(headers or {})
        if auth and self.device_key:
            all_headers["Authorization"] = f"Bearer {self.device_key}"
        try:
            r = self.session.request(method, url, headers=all_headers, timeout=timeout or self.timeout,
                                     **kw)  # type: ignore[arg-type]
        except requests.RequestException as exc:
            raise NetworkError(f"{method} {url}: {exc}") from exc
        self._check(r, ok)
        return r

    @staticmethod
    def _check(r: requests.Response, ok: tuple[int, ...]) -> None:
        if r.status_code in ok:
            return
        body = r.text[:200]
        if r.status_code in (401, 403):
            raise Unauthorized(r.status_code, r.url, body)
        wait = retry_after(r.headers.get("retry-after")) if r.status_code in (429, 503) else None
        raise HttpStatusError(r.status_code, r.url, body, retry_after_s=wait)


MAX_RETRY_AFTER_S = 3600.0  # a longer "come back later" is a misconfigured server: believe an hour


def retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay-seconds or an HTTP date, RFC 9110
    10.2.3), within [0, an hour]; None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    wait = (when - (now or dt.datetime.now(dt.UTC))).total_seconds()
    return min(max(0.0, wait), MAX_RETRY_AFTER_S)


def _origin(url: str) -> tuple[str, str, int | None]:
    u = urlsplit(url)
    return u.scheme, (u.hostname or "").lower(), u.port or (443 if u.scheme == "https" else 80)


def _parse(model: type[_M], r: requests.Response) -> _M:
    try:
        return model.model_validate_json(r.content)
    except ValidationError as exc:
        raise BadResponse(f"{r.url}: response is not a valid {model.__name__}: {exc}") from exc
