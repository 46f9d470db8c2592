"""Body limits: each route declares its own (1 MiB for the rest); uploads of any size up to theirs.

The bug this guards: the limits used to live in a hard-coded list of streaming paths that had
fallen out of date, so a provider's 2 MiB photo got 413. Now a handler that reads the raw body
stream must declare its limit, and a test finds every such handler in the app.
"""

from __future__ import annotations

import ast
import inspect
import io
import random
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, File, Request, UploadFile
from PIL import Image

from content_server.core.body_limit import DEFAULT_MAX_BODY, api_routes, declared_limit, max_body
from tests.fixtures.server import TEST_SECRET, AppClient, bootstrap_operator, make_app_client

SERVER = Path(__file__).resolve().parents[2] / "content_server"


def jpeg_of_at_least(size: int) -> bytes:
    """A real photo-like JPEG (noise compresses badly) of at least ``size`` bytes."""
    rng = random.Random(7)
    side = 600
    while True:
        img = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
        out = io.BytesIO()
        img.save(out, "JPEG", quality=95)
        if out.tell() >= size:
            return out.getvalue()
        side += 200


def test_a_providers_2_mib_photo_is_accepted(app_client: AppClient) -> None:
    photo = jpeg_of_at_least(2 * 1024 * 1024)
    assert len(photo) > DEFAULT_MAX_BODY * 2
    provider = app_client.auth(app_client.create_user("photo-shop", "provider"))
    r = app_client.post("/api/v1/provider/images", content=photo, headers=provider)
    assert r.status_code == 201, r.text
    assert r.json()["width"] >= 600


def test_the_configured_upload_limit_is_the_routes_limit(tmp_path: Path) -> None:
    photo = jpeg_of_at_least(300 * 1024)
    client = make_app_client(tmp_path / "d", max_upload_bytes=200 * 1024)
    with client:
        bootstrap_operator(client)
        provider = client.auth(client.create_user("photo-shop", "provider"))
        r = client.post("/api/v1/provider/images", content=photo, headers=provider)
        assert r.status_code == 413 and "limit of 204800 bytes" in r.json()["detail"]
        r = client.post("/api/v1/media", content=photo, headers=client.auth(client.operator))
        assert r.status_code == 413


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


def test_a_chunked_body_over_the_limit_gets_413_not_400(app_client: AppClient) -> None:
    """No Content-Length to refuse up front: the body is counted as it arrives, and whatever the
    route's parser makes of the cut-off body (it would say 400), the answer is 413."""
    big = DEFAULT_MAX_BODY + 1
    for path in ("/api/v1/auth/login", "/api/v1/devices/pairing"):
        r = app_client.post(path, content=chunks(big), headers={"Content-Type": "application/json"})
        assert "content-length" not in r.request.headers
        assert r.status_code == 413, (path, r.status_code, r.text)
        assert r.json()["detail"] == f"request body over the limit of {DEFAULT_MAX_BODY} bytes"
    # under the limit the same route answers as usual
    json_type = {"Content-Type": "application/json"}
    assert app_client.post("/api/v1/auth/login", content=chunks(10), headers=json_type).status_code == 422


def test_a_declared_content_length_over_the_limit_is_refused_before_reading(app_client: AppClient) -> None:
    r = app_client.post(
        "/api/v1/auth/login",
        content=b"{}",
        headers={"Content-Type": "application/json", "Content-Length": str(DEFAULT_MAX_BODY + 1)},
    )
    assert r.status_code == 413


# ---- every handler that reads the raw body declares its limit ------------------------------------


def reads_raw_body(endpoint: Callable[..., Any]) -> bool:
    """Whether a handler streams the request body or takes uploaded files."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(endpoint)))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "stream":
            return True
    hints = inspect.signature(endpoint).parameters.values()
    return any("UploadFile" in str(p.annotation) or isinstance(p.default, type(File())) for p in hints)


def undeclared_streaming_handlers(app: FastAPI) -> list[str]:
    return [
        f"{sorted(context.methods or ())} {context.path}"
        for context, route in api_routes(app)
        if reads_raw_body(route.endpoint) and declared_limit(route) is None
    ]


def test_every_handler_that_streams_the_body_declares_its_limit(tmp_path: Path) -> None:
    from content_server.app import create_app
    from content_server.core.settings import Settings

    app = create_app(Settings(data_dir=tmp_path, demo=True, secret_key=TEST_SECRET))
    streaming = [context.path for context, route in api_routes(app) if reads_raw_body(route.endpoint)]
    assert {"/api/v1/media", "/api/v1/provider/images", "/api/v1/device/screenshot"} <= set(streaming)
    assert undeclared_streaming_handlers(app) == []


def test_the_check_finds_an_undeclared_streaming_handler() -> None:
    """The check above can fail: a handler that streams without a declared limit is named."""
    router = APIRouter()

    @router.post("/raw")
    async def raw(request: Request) -> int:
        return sum([len(c) async for c in request.stream()])

    @router.post("/file")
    async def upload(file: UploadFile) -> str:
        return file.filename or ""

    @router.post("/declared", dependencies=[max_body(10)])
    async def declared(request: Request) -> int:
        return sum([len(c) async for c in request.stream()])

    app = FastAPI()
    app.include_router(router, prefix="/x")
    assert sorted(undeclared_streaming_handlers(app)) == ["['POST'] /x/file", "['POST'] /x/raw"]


def test_no_code_outside_a_route_handler_reads_the_request_stream() -> None:
    """Reading ``request.stream()`` in a helper would hide it from the check: it stays in handlers."""
    handlers = {
        (route.endpoint.__module__, route.endpoint.__name__)
        for _, route in api_routes(_app())
    }
    offenders = []
    for path in SERVER.rglob("*.py"):
        module = ".".join(path.relative_to(SERVER.parent).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            calls = [
                n
                for n in ast.walk(node)
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "stream"
            ]
            if calls and (module, node.name) not in handlers:
                offenders.append(f"{module}.{node.name}")
    assert offenders == []


def _app() -> FastAPI:
    from content_server.app import create_app
    from content_server.core.settings import Settings

    never_started = Path("/nonexistent-never-started")
    return create_app(Settings(data_dir=never_started, demo=True, secret_key=TEST_SECRET))
