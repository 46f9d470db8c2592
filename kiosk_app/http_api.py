"""``KioskApi`` over HTTP (requests), built on the device's client (``signage_player.ServerClient``).

The device client brings the device routes, the bearer header, timeouts and error mapping, so
one object is both the kiosk's device API and its ``KioskApi``; this adds the kiosk routes of
:mod:`schedules.protocol.kiosk` and maps failures to the kiosk's API errors.
"""

from __future__ import annotations

from typing import TypeVar
from urllib.parse import urlsplit

import requests
from pydantic import BaseModel, ValidationError

from kiosk_app.api import ApiUnavailable, CatalogueResult, KioskApiError, LockedOut, NotFound, Rejected
from schedules.protocol.kiosk import CaseLookup, CaseStatus, OrderCreate, OrderView, ServiceCatalogue
from signage_player import HttpStatusError, NetworkError, ServerClient

KIOSK_API = "/api/v1/kiosk"
_M = TypeVar("_M", bound=BaseModel)


class HttpKioskApi(ServerClient):
    """``KioskApi`` over requests against ``/api/v1/kiosk`` with the device's bearer key."""

    def catalogue(self, etag: str | None = None) -> CatalogueResult:
        headers = {"If-None-Match": etag} if etag else {}
        r = self._call("GET", "/catalogue", headers=headers, ok=(200, 304))
        if r.status_code == 304:
            return CatalogueResult(None, etag)
        return CatalogueResult(_parse(ServiceCatalogue, r.content), r.headers.get("ETag"))

    def create_order(self, order: OrderCreate) -> OrderView:
        r = self._call("POST", "/orders", json=order.model_dump(mode="json"), ok=(200, 201))
        return _parse(OrderView, r.content)

    def get_order(self, order_id: str) -> OrderView:
        return _parse(OrderView, self._call("GET", f"/orders/{_segment(order_id)}").content)

    def order_by_reference(self, reference: str) -> OrderView:
        return _parse(OrderView, self._call("GET", f"/orders/by-reference/{_segment(reference)}").content)

    def cancel_order(self, order_id: str) -> OrderView:
        return _parse(OrderView, self._call("POST", f"/orders/{_segment(order_id)}/cancel").content)

    def lookup_case(self, lookup: CaseLookup) -> CaseStatus:
        r = self._call("POST", "/cases/lookup", json=lookup.model_dump(mode="json", exclude_none=True))
        return _parse(CaseStatus, r.content)

    def fetch(self, url: str) -> bytes:
        """A service image; the device key is only sent to the server itself, never to a CDN."""
        full = self.asset_url(url)
        same_origin = urlsplit(full)[:2] == urlsplit(self.base_url)[:2]
        return self._call("GET", full, absolute=True, auth=same_origin).content

    def _call(self, method: str, path: str, *, absolute: bool = False, ok: tuple[int, ...] = (200,),
              headers: dict[str, str] | None = None, json: object = None,
              auth: bool = True) -> requests.Response:
        target = path if absolute else f"{KIOSK_API}{path}"
        try:
            r = self._request(method, target, ok=(*ok, 429), headers=headers, json=json, auth=auth)
        except NetworkError as exc:
            raise ApiUnavailable(str(exc)) from exc
        except HttpStatusError as exc:
            raise _map_status(exc) from exc
        if r.status_code == 429:
            retry = r.headers.get("Retry-After", "60")
            raise LockedOut(int(retry) if retry.isdigit() else 60)
        return r


def _map_status(exc: HttpStatusError) -> KioskApiError:
    if exc.status == 404:
        return NotFound(str(exc))
    if exc.status >= 500 or exc.status == 408:
        return ApiUnavailable(str(exc))
    return Rejected(exc.status, str(exc))


def _segment(value: str) -> str:
    """Refuse anything that could change the path: references and ids are plain tokens."""
    if not value or not all(c.isalnum() or c in "-_" for c in value):
        raise NotFound(f"malformed identifier {value!r}")
    return value


def _parse(model: type[_M], body: bytes) -> _M:
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise ApiUnavailable(f"server answered with an invalid {model.__name__}: {exc}") from exc


