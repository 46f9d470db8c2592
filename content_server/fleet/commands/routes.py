"""Commands' JSON API: devices long-poll and acknowledge; operators send and follow.

Device routes authenticate with the device key (``/device/commands``); everything else needs an
operator. The long-poll is async and holds no database connection while it waits.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from content_server.core.deps import ClockDep, NowDep, Operator, SessionDep, bearer_token, client_address
from content_server.fleet.commands import services
from content_server.fleet.commands.notifier import CommandNotifier
from content_server.fleet.commands.selector import CommandRequest, CommandState
from content_server.signage.deps import CurrentDevice, device_for_key
from schedules.protocol.device import CommandAck, CommandList

router = APIRouter(tags=["commands"])
MAX_WAIT_S = 60.0


@router.get("/device/commands", response_model=CommandList)
async def poll(
    request: Request,
    clock: ClockDep,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    wait: Annotated[float, Query(ge=0, le=120)] = 0,
) -> CommandList:
    """Long-poll: the device's waiting commands numbered above ``after``, at once or when one is sent."""
    state = request.app.state
    token = bearer_token(request)

    def check() -> tuple[str, CommandList]:
        with state.sessions() as session:
            device = device_for_key(state.device_keys, session, token)
            return device.id, CommandList(commands=services.pending_for(session, device, after, clock.now()))

    notifier: CommandNotifier = state.command_notifier
    return await notifier.long_poll(check, min(wait, MAX_WAIT_S))


@router.post("/device/commands/{command_id}/ack", status_code=204, response_class=Response)
def acknowledge(command_id: str, body: CommandAck, session: SessionDep, now: NowDep,
                device: CurrentDevice) -> Response:
    """What became of a command; repeating it is harmless. 404 for a command not this device's."""
    services.acknowledge(session, device, command_id[:64], body, now=now)
    return Response(status_code=204)


class SendOut(BaseModel):
    id: str
    kind: str
    params: dict[str, Any]
    selector: dict[str, Any]
    device_count: int
    sent_by: str
    sent_by_role: str
    address: str
    sent_at: dt.datetime
    expires_at: dt.datetime
    counts: dict[CommandState, int]

    @classmethod
    def of(cls, view: services.SendView) -> SendOut:
        s = view.send
        return cls(id=s.id, kind=s.kind, params=dict(s.params or {}), selector=dict(s.selector or {}),
                   device_count=s.device_count, sent_by=s.sent_by_name, sent_by_role=s.sent_by_role,
                   address=s.address, sent_at=s.sent_at, expires_at=s.expires_at, counts=view.counts)


class DeviceCommandOut(BaseModel):
    command_id: str
    device_id: str
    device_name: str
    state: CommandState
    delivered_at: dt.datetime | None
    acked_at: dt.datetime | None
    finished_at: dt.datetime | None
    detail: str


class SendDetailOut(SendOut):
    devices: list[DeviceCommandOut]


def _detail(session: SessionDep, send_id: str, now: dt.datetime) -> SendDetailOut:
    view, rows = services.send_detail(session, send_id, now)
    out = SendOut.of(view).model_dump()
    return SendDetailOut(**out, devices=[DeviceCommandOut(**vars(r)) for r in rows])


@router.post("/commands", response_model=SendDetailOut, status_code=201)
def send(body: CommandRequest, request: Request, session: SessionDep, now: NowDep,
         user: Operator) -> SendDetailOut:
    """Send a command to the screens a selector names now (422 when it names none)."""
    notifier: CommandNotifier = request.app.state.command_notifier
    row = services.send(session, body, user=user, address=client_address(request), now=now,
                        notify=notifier.poke)
    return _detail(session, row.id, now)


@router.get("/commands", response_model=list[SendOut])
def list_sends(session: SessionDep, now: NowDep, _op: Operator) -> list[SendOut]:
    return [SendOut.of(v) for v in services.list_sends(session, now)]


@router.get("/commands/{send_id}", response_model=SendDetailOut)
def get_send(send_id: str, session: SessionDep, now: NowDep, _op: Operator) -> SendDetailOut:
    return _detail(session, send_id, now)
