"""The real server process on loopback, the real TUF client: releases arrive through the update
routes, and every attack on the repository's files is refused by the device."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import requests

from content_server.updates.repository import TufRepository
from schedules.protocol.release import running_platform
from signage_player.updater.fetch import FetchError, HttpFetcher, Source
from tests.fixtures.server import LiveServer, PairedDevice, free_port, pair_device
from tests.fixtures.update_attacks import ATTACKS, AttackBed, run_attack
from tests.fixtures.updates import ServerUpdates, UpdateRepo

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Its re-signing job runs every 50 ms, as busy as it can be: an attack must hold while the
    server keeps signing (``AttackBed.signer_stopped``)."""
    srv = LiveServer(
        data_dir=tmp_path_factory.mktemp("server"),
        port=free_port(),
        extra_env={"SIGNAGE_UPDATE_CHECK_S": "0.05"},
    )
    srv.create_operator()
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def device(server: LiveServer) -> PairedDevice:
    return pair_device(server)


@pytest.fixture
def bed(server: LiveServer, device: PairedDevice, tmp_path: Path) -> Iterator[AttackBed]:
    """A fresh repository on the live server (its files reset; the server keeps no copy in memory)."""
    updates = server.data_dir / "updates"
    for part in ("metadata", "targets"):
        shutil.rmtree(updates / part, ignore_errors=True)
    with httpx.Client(base_url=server.url) as http:
        ops = ServerUpdates(http, server.auth(server.operator), tmp_path)
        ops.set_up()
        ur = UpdateRepo(TufRepository(updates), ops.root_key, ops.targets_key, tmp_path)
        source = Source.server(server.url, HttpFetcher(requests.Session(), device.headers))
        yield AttackBed(ur, source, tmp_path / "devices", dwell_s=0.3)  # six of the server's re-signing runs


def test_a_release_published_through_the_api_reaches_a_device(
    bed: AttackBed, server: LiveServer, tmp_path: Path
) -> None:
    with httpx.Client(base_url=server.url) as http:
        ops = ServerUpdates(http, server.auth(server.operator), tmp_path, bed.ur.root_key, bed.ur.targets_key)
        rows = ops.publish(bed.release("2.0.0"))
    assert rows[0]["version"] == "2.0.0"
    got = bed.fetch(bed.device(), "2.0.0")
    assert got.index.version == "2.0.0" and sorted(got.downloaded) == sorted(got.wheels)
    stranger = Source.server(server.url, HttpFetcher(requests.Session(), {"Authorization": "Bearer nope"}))
    with pytest.raises(FetchError) as info:
        bed.device().fetch(stranger, "2.0.0", running_platform())
    assert "401" in str(info.value) and not info.value.refused


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_on_the_servers_repository_is_refused(attack: str, bed: AttackBed) -> None:
    result = run_attack(attack, bed)
    assert result.refused, result
