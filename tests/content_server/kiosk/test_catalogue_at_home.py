"""The catalogue tells kiosks which services happen at the resident's home (they then require the
building and room), from the service's category."""

from __future__ import annotations

from sqlalchemy import update

from content_server.kiosk.models import ServiceCategoryRow
from schedules.protocol.kiosk import ServiceCatalogue
from signage_demo.kiosk_catalogue import CATEGORIES
from tests.content_server.kiosk.conftest import InProcess

API = "/api/v1/kiosk/catalogue"


def catalogue(env: InProcess) -> ServiceCatalogue:
    r = env.client.get(API, headers=env.kiosk.headers)
    assert r.status_code == 200, r.text
    return ServiceCatalogue.model_validate(r.json())


def test_services_are_at_home_as_their_category_says(kiosk_env: InProcess) -> None:
    doc = catalogue(kiosk_env)
    at_home = {cid: home for cid, _zh, _en, home in CATEGORIES}
    assert {s.category_id for s in doc.services} == set(at_home)  # every kind of category is in the demo
    for service in doc.services:
        assert service.at_home is at_home[service.category_id], service.name.en
    bathing = next(s for s in doc.services if s.name.en == "Bathing help")
    haircut = next(s for s in doc.services if s.name.en == "Seniors' haircut")
    assert bathing.at_home and not haircut.at_home

    with kiosk_env.sessions() as s:  # an operator decides the barber comes to the house now
        s.execute(update(ServiceCategoryRow).where(ServiceCategoryRow.id == "merchants").values(at_home=True))
        s.commit()
    again = catalogue(kiosk_env)
    assert again.version != doc.version  # a change kiosks pick up on their next poll
    assert next(s for s in again.services if s.id == haircut.id).at_home
