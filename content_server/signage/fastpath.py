"""Fast paths for the fleet's most frequent requests: unchanged manifest polls and asset
downloads (:class:`PollFastPath`), heartbeats and proof-of-play batches (:class:`DeviceWriteFastPath`).

When the bearer key is authorised (:meth:`DeviceKeys.authorise_device`, the same rule as the
normal route, asked of its memory) and the device's cached manifest is known current
(``ManifestCache.fresh_manifest``), the app answers an unchanged poll (304) and a download of
one of that manifest's own assets before FastAPI's layers (error and body-limit middleware,
routing, dependency injection, a worker-thread hop) and without a database round trip: for these
requests those layers cost more CPU than the answer. The fast path is stricter than the routes
it shortcuts (a key not known here, or an asset not in the key's manifest, goes through the
normal route), so authorisation and error answers stay the routes'. Which assets a screen may
download is ``asset_access.may_download``, asked here and by the route. The 304 carries the same
headers as the route's (``core.conditional``). HEAD is answered like GET, without the body.
An asset's answer is ``core.blobs.blob_response``'s, as the route's: behind nginx
(``SIGNAGE_ACCEL_REDIRECT_PREFIX``) an ``X-Accel-Redirect`` for nginx to send the file.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import urllib.parse
from collections.abc import Awaitable, Callable

from pydantic import BaseModel, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from content_server.core.blobs import blob_response
from content_server.core.conditional import PRIVATE_REVALIDATE, RawNotModified, etag_matches, strong_etag
from content_server.core.errors import ServerError
from content_server.core.group_commit import GroupCommit
from content_server.core.headers import NO_STORE, NOSNIFF
from content_server.core.store import MediaStore
from content_server.signage.asset_access import may_download
from content_server.signage.proof_of_play import PlayPolicy
from content_server.signage.services import plays
from content_server.signage.services.devices import DeviceGrant, DeviceKeys
from content_server.signage.services.heartbeats import HeartbeatBook
from content_server.signage.services.manifest import kinds_of
from content_server.signage.services.manifest_cache import ManifestCache
from schedules.clock import Clock
from schedules.protocol.device import Heartbeat, PlayBatch

log = logging.getLogger(__name__)

MANIFEST_PATH = "/api/v1/device/manifest"
ASSET_PREFIX = "/api/v1/assets/"
HEARTBEAT_PATH = "/api/v1/device/heartbeat"
PLAYS_PATH = "/api/v1/device/plays"
FAST_WRITES = "device_writes_fast"  # the counter /metrics reports


def _authorised(keys: DeviceKeys, scope: Scope, header: bytes) -> tuple[DeviceGrant, bytes | None] | None:
    """The grant of the request's bearer device key when known current here (the route's rule,
    asked of its memory), with the value of one other ``header``; None: the route decides."""
    auth = other = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            auth = value
        elif name == header:
            other = value
    if auth is None or auth[:7].lower() != b"bearer ":
        return None
    grant = keys.authorise_device(hashlib.sha256(auth[7:].strip()).hexdigest())  # as DeviceKeys knows keys
    return None if grant is None else (grant, other)


class PollFastPath:
    """A front answer (``core.api.ContentServer``): the answer for ``scope``, or None."""

    def __init__(
        self,
        keys: DeviceKeys,
        manifests: ManifestCache,
        store: MediaStore,
        clock: Clock,
        accel_prefix: str | None = None,
    ) -> None:
        self.keys = keys
        self.manifests = manifests
        self.store = store
        self.clock = clock
        self.accel_prefix = accel_prefix  # SIGNAGE_ACCEL_REDIRECT_PREFIX: nginx sends the bytes

    def __call__(self, scope: Scope) -> ASGIApp | None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return None
        path: str = scope["path"]
        if path != MANIFEST_PATH and not path.startswith(ASSET_PREFIX):
            return None
        if path == MANIFEST_PATH and scope["method"] != "GET":
            return None
        authorised = _authorised(self.keys, scope, b"if-none-match")
        if authorised is None:
            return None
        grant, raw_inm = authorised
        inm = raw_inm.decode("latin-1") if raw_inm is not None else None
        kinds = None
        if path == MANIFEST_PATH:  # a manifest made for other item kinds is not this poll's
            query = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1"))
            kinds = kinds_of(",".join(query.get("kinds", [])))
        fresh = self.manifests.fresh_grant(grant.device_id, self.clock.now(), kinds)
        if fresh is None:
            return None
        manifest, assets = fresh
        if path == MANIFEST_PATH:
            etag = strong_etag(manifest.version)
            if not etag_matches(inm, etag):
                return None
            self.manifests.answered_from_memory()
            return RawNotModified(etag, PRIVATE_REVALIDATE)
        sha = path[len(ASSET_PREFIX) :]
        if not may_download(assets, sha):
            return None  # the route answers (and refuses) with the same rule
        ref = next((a for a in manifest.assets if a.sha256 == sha), None)
        if ref is None or not self.store.exists(sha):
            return None  # a previous manifest's asset: the route knows its type
        return blob_response(inm, self.store, sha, ref.media_type, accel_prefix=self.accel_prefix)


# (device id, the request's JSON body, now) -> the reply, or None: the route answers instead
DeviceWrite = Callable[[str, bytes, dt.datetime], Awaitable[BaseModel | None]]


class DeviceWriteFastPath:
    """A front answer for a screen's writes: a heartbeat and a proof-of-play batch.

    A screen sends one of each every 30 to 60 seconds, and FastAPI's layers (middleware, routing,
    dependency injection, validating the reply it was just given) cost about as much CPU as the
    write itself. When the key is authorised from memory (:meth:`DeviceKeys.authorise_device`,
    the route's rule) and the body is JSON within its route's limit (``core.body_limit.route_limit``),
    the body goes to the same service call the route makes (``writes``: the heartbeat book's
    :meth:`~content_server.signage.services.heartbeats.HeartbeatBook.steady`, the group-commit
    ``plays.INGEST``). Anything else goes to the route with the body as read (``behind``): a key
    not known here, a body the service call refuses to parse, a beat with news to write now, an
    error (the route answers it, as it would have; a batch is counted once however often it is
    ingested). Each answer carries what ``SecurityHeaders`` would have added.
    """

    def __init__(
        self,
        keys: DeviceKeys,
        clock: Clock,
        writes: dict[str, DeviceWrite],
        behind: ASGIApp,
        limit_for: Callable[[Scope], int],
        count: Callable[[str], None] | None = None,
    ) -> None:
        self.keys = keys
        self.clock = clock
        self.writes = writes
        self.behind = behind
        self.limit_for = limit_for
        self.count = count or (lambda _name: None)

    def __call__(self, scope: Scope) -> ASGIApp | None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return None
        write = self.writes.get(scope["path"])
        if write is None:
            return None
        authorised = _authorised(self.keys, scope, b"content-type")
        if authorised is None:
            return None
        grant, content_type = authorised
        if content_type is None or content_type.split(b";")[0].strip().lower() != b"application/json":
            return None
        return functools.partial(self._answer, write, grant.device_id)

    async def _answer(
        self, write: DeviceWrite, device_id: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        read: list[Message] = []
        body = await _read_body(receive, self.limit_for(scope), read)
        reply = None
        if body is not None:
            try:  # boundary: whatever fails here, the route does again and answers as it does
                reply = await write(device_id, body, self.clock.now())
            except (ValidationError, ServerError):
                pass  # a malformed body (422), a refusal: the route's answer
            except Exception:
                log.warning("device write fast path failed; the route answers", exc_info=True)
        if reply is None:
            if not (read and read[-1]["type"] == "http.disconnect"):
                await self.behind(scope, _replay(read, receive), send)
            return
        self.count(FAST_WRITES)
        payload = reply.model_dump_json().encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                   NOSNIFF, NO_STORE]  # fmt: skip
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


def steady_beat(book: HeartbeatBook) -> DeviceWrite:
    """The heartbeat route's call: a steady beat answered from memory (None: the route writes it)."""

    async def write(device_id: str, body: bytes, now: dt.datetime) -> BaseModel | None:
        return await book.steady(device_id, Heartbeat.model_validate_json(body), now)

    return write


def play_batch(writes: GroupCommit, policy: PlayPolicy) -> DeviceWrite:
    """The proof-of-play route's call: the batch ingested with its group's commit."""

    async def write(device_id: str, body: bytes, now: dt.datetime) -> BaseModel | None:
        submission = plays.PlaySubmission(device_id, PlayBatch.model_validate_json(body), now, policy)
        return await writes.write(plays.INGEST, submission)

    return write


async def _read_body(receive: Receive, limit: int, read: list[Message]) -> bytes | None:
    """The whole body, each message kept in ``read``; None when it is over ``limit`` (the route
    refuses it) or the client went away."""
    size = 0
    while True:
        message = await receive()
        read.append(message)
        if message["type"] != "http.request":
            return None
        size += len(message.get("body", b""))
        if size > limit:
            return None
        if not message.get("more_body", False):
            return b"".join(m.get("body", b"") for m in read)


def _replay(read: list[Message], receive: Receive) -> Receive:
    """``receive`` with the messages already read given first."""
    pending = list(read)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed
