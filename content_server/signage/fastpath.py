"""Fast path for the fleet's most frequent requests: unchanged manifest polls and asset downloads.

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

import hashlib
import urllib.parse

from starlette.types import ASGIApp, Scope

from content_server.core.blobs import blob_response
from content_server.core.conditional import PRIVATE_REVALIDATE, RawNotModified, etag_matches, strong_etag
from content_server.core.store import MediaStore
from content_server.signage.asset_access import may_download
from content_server.signage.services.devices import DeviceKeys
from content_server.signage.services.manifest import kinds_of
from content_server.signage.services.manifest_cache import ManifestCache
from schedules.clock import Clock

MANIFEST_PATH = "/api/v1/device/manifest"
ASSET_PREFIX = "/api/v1/assets/"


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
        auth = inm = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                auth = value
            elif name == b"if-none-match":
                inm = value.decode("latin-1")
        if auth is None or auth[:7].lower() != b"bearer ":
            return None
        grant = self.keys.authorise_device(hashlib.sha256(auth[7:].strip()).hexdigest())
        if grant is None:
            return None
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
