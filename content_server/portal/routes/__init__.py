"""All portal pages, one router per kind of user."""

from fastapi import APIRouter

from content_server.portal.routes import accounts, advertiser, operator, staff

router = APIRouter(prefix="/portal", include_in_schema=False)
router.include_router(accounts.router)
router.include_router(advertiser.router)
router.include_router(operator.router)
router.include_router(staff.router)
