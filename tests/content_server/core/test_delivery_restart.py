"""A real server killed (``kill -9``) in the middle of delivering, and started again: nothing is
lost, and the receiver sees one message, however many times it was tried.

The receiver is the operator's own system on loopback, checking Standard Webhooks signatures
with the ``standardwebhooks`` package. Messages come from a channel's "send a test message".
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from content_server.fleet.channel_config import new_webhook_secret
from tests.fixtures.receivers import WebhookReceiver
from tests.fixtures.server import LiveServer
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.slow

FAST = {
    "SIGNAGE_DELIVERY_FIRST_RETRY_S": "2",
    "SIGNAGE_DELIVERY_POLL_S": "0.2",
    "SIGNAGE_DELIVERY_LEASE_S": "5",
}


def start(
    factory: Callable[..., LiveServer], hooks: WebhookReceiver
) -> tuple[LiveServer, dict[str, str], str]:
    server = factory(**FAST)
    op = server.auth(server.operator)
    r = httpx.post(
        server.api + "/fleet/channels",
        headers=op,
        json={
            "name": "ops system",
            "kind": "webhook",
            "config": {"url": hooks.url, "secret": hooks.state.secret},
        },
    )
    assert r.status_code == 201, r.text
    return server, op, r.json()["id"]


def delivery(server: LiveServer, op: dict[str, str], delivery_id: str) -> dict[str, Any]:
    r = httpx.get(f"{server.api}/deliveries/{delivery_id}", headers=op)
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


def test_a_restart_between_retries_loses_nothing_and_sends_nothing_twice(
    live_server_factory: Callable[..., LiveServer],
) -> None:
    hooks = WebhookReceiver(new_webhook_secret())
    hooks.state.refuse_first = 2  # the receiver is down for the first two tries
    try:
        server, op, channel = start(live_server_factory, hooks)
        queued = httpx.post(f"{server.api}/fleet/channels/{channel}/test", headers=op).json()
        eventually(
            lambda: [a["ok"] for a in delivery(server, op, queued["id"])["history"]] == [False],
            what="the first attempt refused and recorded",
        )
        server.kill()  # kill -9 while the message waits for its retry
        server.start()
        op = server.auth(server.operator)
        eventually(
            lambda: len(hooks.accepted()) == 1, timeout_s=60, what="the message delivered after the restart"
        )
        # the receiver has the message before the worker records its answer: wait for the record
        eventually(
            lambda: delivery(server, op, queued["id"])["state"] != "sending",
            timeout_s=60,
            what="the delivery recorded",
        )
        final = delivery(server, op, queued["id"])
        requests = hooks.requests()
        assert final["state"] == "delivered" and final["attempts"] == len(requests) == 3
        assert len({r.id for r in requests}) == 1 and all(r.verified for r in requests)
        assert [a["ok"] for a in final["history"]] == [False, False, True]
        assert final["history"][0]["detail"].startswith("HTTP 503")
        assert len(hooks.accepted()) == 1  # delivered: the queue sends it no more
    finally:
        hooks.close()


def test_a_message_cut_off_mid_send_is_sent_again_under_the_same_id(
    live_server_factory: Callable[..., LiveServer],
) -> None:
    """The server dies while the receiver holds the request. After the restart and the dead
    process's lease, the message goes again with the same ``webhook-id``: a receiver that keeps
    the ids it has handled acts on it once (Standard Webhooks' idempotency)."""
    hooks = WebhookReceiver(new_webhook_secret())
    gate = threading.Event()
    hooks.state.hold = gate
    try:
        server, op, channel = start(live_server_factory, hooks)
        queued = httpx.post(f"{server.api}/fleet/channels/{channel}/test", headers=op).json()
        assert hooks.state.held.wait(20), "the first attempt never reached the receiver"
        server.kill()
        hooks.state.hold = None
        gate.set()  # the receiver finishes handling the first request (its answer finds no one)
        server.start()
        op = server.auth(server.operator)
        eventually(
            lambda: delivery(server, op, queued["id"])["state"] == "delivered",
            timeout_s=60,
            what="the message sent again once the dead process's lease ran out",
        )
        requests = hooks.requests()
        assert len(requests) == 2 and requests[0].id == requests[1].id and all(r.verified for r in requests)
        assert len({r.id for r in requests if r.answered == 200}) == 1  # one message, as the receiver counts
        history = delivery(server, op, queued["id"])["history"]
        assert [(a["number"], a["ok"]) for a in history] == [(1, None), (2, True)]
        assert history[0]["finished_at"] is None  # the portal shows it cut off
    finally:
        hooks.close()
