"""HTTP plumbing shared by the routes: Discord-shaped JSON and error responses, request bodies."""

from __future__ import annotations

import contextvars
import json
from typing import Any

from aiohttp import BodyPartReader, web

from tests.e2e.fake_discord.protocol import Json
from tests.e2e.fake_discord.records import RecordedFile, RecordedRequest


class JsonResponse(web.Response):
    """A JSON response that remembers its payload for the request record."""

    def __init__(self, data: Any, status: int) -> None:
        # discord.py parses JSON only when the content-type is exactly "application/json" (no charset).
        super().__init__(body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"})
        self.payload = data


def json_response(data: Any, status: int = 200) -> web.Response:
    return JsonResponse(data, status)


def error_response(status: int, code: int, message: str, errors: Json | None = None) -> web.Response:
    data: Json = {"code": code, "message": message}
    if errors:
        data["errors"] = errors
    return json_response(data, status)


# The request being handled: the middleware records it, handlers (run in the same task) read it.
current_record: contextvars.ContextVar[RecordedRequest | None] = contextvars.ContextVar("record", default=None)


def no_content() -> web.Response:
    return web.Response(status=204)


def as_int(value: str) -> int | None:
    return int(value) if value.isdigit() else None


async def read_body(request: web.Request) -> tuple[Any, list[RecordedFile]]:
    """JSON bodies as parsed JSON; multipart bodies as their ``payload_json`` plus the uploaded files."""
    if not request.body_exists:
        return None, []
    if request.content_type == "multipart/form-data":
        payload: Any = None
        files: list[RecordedFile] = []
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue  # discord.py never nests multiparts
            if part.name == "payload_json":
                payload = json.loads(await part.text())
            else:
                data = await part.read(decode=False)
                content_type = part.headers.get("Content-Type")
                files.append(RecordedFile(str(part.name), part.filename, bytes(data), content_type))
        return payload, files
    text = await request.text()
    if not text:
        return None, []
    try:
        return json.loads(text), []
    except json.JSONDecodeError:
        return text, []
