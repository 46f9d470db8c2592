"""What kiosks ask: the service catalogue (ETag), orders, case look-ups (``schedules.protocol.kiosk``)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from content_server.core.blobs import serve_blob
from content_server.core.conditional import REVALIDATE, conditional, etag_matches, strong_etag
from content_server.core.db import release_connection
from content_server.core.deps import NowDep, SessionDep, StoreDep
from content_server.core.errors import NotFound
from content_server.kiosk.deps import API, Kiosk, Runtime
from content_server.kiosk.reference import normalize_reference
from content_server.kiosk.services import cases, orders
from content_server.kiosk.services.catalogue import CatalogueCache, service_image_type
from schedules.protocol.kiosk import CaseLookup, CaseStatus, OrderCreate, OrderView, ServiceCatalogue

kiosk_router = APIRouter(prefix=f"{API}/kiosk", tags=["kiosk"])


@kiosk_router.get("/catalogue", response_model=ServiceCatalogue)
def get_catalogue(request: Request, kiosk: Kiosk, session: SessionDep, now: NowDep) -> Response:
    """The catalogue (``ETag`` = its version); a 304 from memory while nothing in it changed."""
    cache: CatalogueCache = request.app.state.kiosk_catalogue
    catalogue, body = cache.get(session, now)
    inm = request.headers.get("if-none-match")
    etag = strong_etag(catalogue.version)
    if etag_matches(inm, etag):
        cache.answered_from_memory()
    return conditional(
        inm, etag, REVALIDATE, lambda headers: Response(body, media_type="application/json", headers=headers)
    )


@kiosk_router.get("/images/{sha256}", response_class=Response)
@kiosk_router.head("/images/{sha256}", response_class=Response, include_in_schema=False)
def service_image(
    sha256: str, request: Request, kiosk: Kiosk, session: SessionDep, store: StoreDep
) -> Response:
    """A picture of the catalogue's services (Range, ETag, HEAD, nosniff)."""
    return serve_blob(request, store, sha256, service_image_type(session, sha256))


@kiosk_router.post("/orders", response_model=OrderView, status_code=201)
def create_order(
    body: OrderCreate, response: Response, kiosk: Kiosk, session: SessionDep, now: NowDep, rt: Runtime
) -> OrderView:
    order, created = orders.place_order(
        session, rt.default_provider, orders.OrderRequest.online(kiosk.id, body), now
    )
    if not created:
        response.status_code = 200
    view = orders.view(session, order, status_url=rt.status_url(order.reference))
    release_connection(session)  # a retry only read: no connection held while serialising
    return view


@kiosk_router.get("/orders/by-reference/{reference}", response_model=OrderView)
def order_by_reference(reference: str, kiosk: Kiosk, session: SessionDep, rt: Runtime) -> OrderView:
    ref = normalize_reference(reference)
    if ref is None:
        raise NotFound("no such order")
    order = orders.get_for_kiosk(session, kiosk.id, reference=ref)
    return orders.view(session, order, status_url=rt.status_url(order.reference))


@kiosk_router.get("/orders/{order_id}", response_model=OrderView)
def get_order(order_id: str, kiosk: Kiosk, session: SessionDep, now: NowDep, rt: Runtime) -> OrderView:
    order = orders.get_for_kiosk(session, kiosk.id, order_id=order_id)
    orders.settle_if_overdue(session, rt.provider(order.payment_provider), order, now)
    view = orders.view(session, order, status_url=rt.status_url(order.reference))
    release_connection(session)  # ends the read: no connection held while serialising
    return view


@kiosk_router.post("/orders/{order_id}/cancel", response_model=OrderView)
def cancel_order(order_id: str, kiosk: Kiosk, session: SessionDep, now: NowDep, rt: Runtime) -> OrderView:
    order = orders.get_for_kiosk(session, kiosk.id, order_id=order_id)
    provider = rt.provider(order.payment_provider)
    orders.cancel_unpaid(session, provider, order, actor=f"kiosk:{kiosk.id}", now=now)
    return orders.view(session, order, status_url=rt.status_url(order.reference))


@kiosk_router.post("/cases/lookup", response_model=CaseStatus)
def lookup_case(body: CaseLookup, kiosk: Kiosk, session: SessionDep, now: NowDep, rt: Runtime) -> CaseStatus:
    return cases.lookup(session, kiosk.id, body, rt.lookups, rt.throttles, now)
