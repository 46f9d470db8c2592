"""Dependencies of the kiosk back end's routes: the kiosk device, staff roles, the runtime."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from content_server.core.deps import require_role
from content_server.core.errors import Forbidden
from content_server.core.models import User
from content_server.kiosk import runtime
from content_server.signage.deps import CurrentDevice
from content_server.signage.models import Device

API = "/api/v1"
Runtime = Annotated[runtime.KioskRuntime, Depends(runtime.get_runtime)]
Clerk = Annotated[User, Depends(require_role("clerk", "operator"))]
Provider = Annotated[User, Depends(require_role("provider"))]
ProviderAny = Annotated[User, Depends(require_role("provider", approved=False))]
Operator = Annotated[User, Depends(require_role("operator"))]


def kiosk_device(device: CurrentDevice) -> Device:
    if device.kind != "kiosk":
        raise Forbidden("this route is for kiosks")
    return device


Kiosk = Annotated[Device, Depends(kiosk_device)]
