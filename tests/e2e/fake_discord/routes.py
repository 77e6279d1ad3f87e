"""The REST API the fake implements: interaction callbacks and webhooks, channels, messages, users, commands."""

from __future__ import annotations

import contextlib
import copy
import json
import re
import time
import traceback
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.e2e.fake_discord.protocol import (
    ALLOWED_CALLBACKS,
    API_PREFIX,
    CALLBACK_AUTOCOMPLETE,
    CALLBACK_CHANNEL_MESSAGE,
    CALLBACK_DEFERRED_CHANNEL_MESSAGE,
    CALLBACK_DEFERRED_UPDATE,
    CALLBACK_MODAL,
    CALLBACK_UPDATE_MESSAGE,
    FLAG_EPHEMERAL,
    FLAG_HAS_THREAD,
    FLAG_LOADING,
    SETTABLE_FLAGS,
    Json,
    truthy,
)
from tests.e2e.fake_discord.records import (
    InjectedFault,
    InteractionHandle,
    OpenedModal,
    RecordedRequest,
    StoredMessage,
)
from tests.e2e.fake_discord.responses import (
    JsonResponse,
    as_int,
    current_record,
    error_response,
    json_response,
    no_content,
    read_body,
)
from tests.e2e.fake_discord.rules import MAX_THREAD_NAME, FormErrors
from tests.e2e.fake_discord.world import FakeChannel


class RoutesMixin:
    """The HTTP routes of ``FakeDiscord``; each records its request and checks the rules."""

    # ------------------------------------------------------------------ HTTP plumbing

    def _add_routes(self, app: web.Application) -> None:
        api = API_PREFIX
        add = app.router.add_route
        add("GET", "/gateway", self._gateway)
        add("GET", "/attachments/{attachment_id}/{filename}", self._cdn)
        add("POST", api + "/interactions/{interaction_id}/{token}/callback", self._h_callback)
        add("POST", api + "/webhooks/{application_id}/{token}", self._h_followup)
        add("GET", api + "/webhooks/{application_id}/{token}/messages/{message_id}", self._h_webhook_get)
        add("PATCH", api + "/webhooks/{application_id}/{token}/messages/{message_id}", self._h_webhook_edit)
        add("DELETE", api + "/webhooks/{application_id}/{token}/messages/{message_id}", self._h_webhook_delete)
        add("GET", api + "/channels/{channel_id}", self._h_get_channel)
        add("POST", api + "/channels/{channel_id}/messages", self._h_create_message)
        add("GET", api + "/channels/{channel_id}/messages", self._h_list_messages)
        add("GET", api + "/channels/{channel_id}/messages/{message_id}", self._h_get_message)
        add("PATCH", api + "/channels/{channel_id}/messages/{message_id}", self._h_edit_message)
        add("DELETE", api + "/channels/{channel_id}/messages/{message_id}", self._h_delete_message)
        add("POST", api + "/channels/{channel_id}/messages/{message_id}/threads", self._h_thread_from_message)
        add("POST", api + "/channels/{channel_id}/threads", self._h_thread)
        add("POST", api + "/channels/{channel_id}/typing", self._h_typing)
        add("POST", api + "/users/@me/channels", self._h_create_dm)
        add("GET", api + "/users/@me", self._h_me)
        add("GET", api + "/users/{user_id}", self._h_get_user)
        add("GET", api + "/guilds/{guild_id}/members/{user_id}", self._h_get_member)
        add("GET", api + "/applications/@me", self._h_application)
        add("GET", api + "/oauth2/applications/@me", self._h_application)
        add("GET", api + "/applications/{application_id}/commands", self._h_get_commands)
        add("PUT", api + "/applications/{application_id}/commands", self._h_put_commands)
        add("GET", api + "/applications/{application_id}/guilds/{guild_id}/commands", self._h_get_commands)
        add("PUT", api + "/applications/{application_id}/guilds/{guild_id}/commands", self._h_put_commands)
        add("GET", api + "/gateway", self._h_gateway_info)
        add("GET", api + "/gateway/bot", self._h_gateway_info)
        add("*", "/{tail:.*}", self._h_unhandled)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        self._inflight += 1
        try:
            return await self._handle_api(request, handler)
        finally:
            self._inflight -= 1
            self._notify()

    # ------------------------------------------------------------------ injected faults

    def api_routes(self) -> list[tuple[str, str]]:
        """Every (method, route) the fake serves under /api/v10, routes as ``fail`` and ``RecordedRequest.route``."""
        assert self._runner is not None, "start the fake first"
        found = []
        for route in self._runner.app.router.routes():
            template = route.resource.canonical if route.resource is not None else ""
            if template.startswith(API_PREFIX + "/"):
                found.append((route.method, template[len(API_PREFIX) :]))
        return found

    def fail(self, method: str, route: str, status: int, *, times: int = 1, retry_after: float = 0.05) -> InjectedFault:
        """Answer the next ``times`` requests to ``method route`` with ``status`` (429, 500, 502…) instead.

        ``route`` is a template from ``api_routes()``. A 429 carries ``retry_after`` seconds as Discord sends it (body
        and headers); a 502 is the HTML page of a proxy, as Discord's edge sends it. The request is recorded with
        ``injected=True`` and is not handled, so nothing changes in the fake's state.
        """
        if (method, route) not in self.api_routes():
            raise ValueError(f"the fake serves no {method} {route}; see api_routes()")
        fault = InjectedFault(method, route, status, times, retry_after)
        self.faults.append(fault)
        return fault

    def _fault_for(self, method: str, route: str) -> InjectedFault | None:
        for fault in self.faults:
            if fault.active and fault.method == method and fault.route == route:
                fault.hits += 1
                return fault
        return None

    @staticmethod
    def _fault_response(fault: InjectedFault) -> web.Response:
        if fault.status == 429:
            seconds = f"{fault.retry_after:.3f}"
            response = error_response(429, 0, "You are being rate limited.")
            assert isinstance(response, JsonResponse)
            response.payload["retry_after"], response.payload["global"] = fault.retry_after, False
            response.body = json.dumps(response.payload).encode()
            response.headers.update(
                {
                    "Retry-After": seconds,
                    "X-RateLimit-Limit": "5",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset-After": seconds,
                    "X-RateLimit-Bucket": "fake-bucket",
                    "X-RateLimit-Scope": "user",
                    "Via": "1.1 google",  # discord.py reads a 429 without it as a Cloudflare ban
                }
            )
            return response
        if fault.status == 502:
            return web.Response(
                status=502, text="<html><body><h1>502 Bad Gateway</h1></body></html>", content_type="text/html"
            )
        return error_response(fault.status, 0, f"{fault.status}: Internal Server Error")

    # ------------------------------------------------------------------ handling requests

    async def _handle_api(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        body, files = await read_body(request)
        path = request.path[len(API_PREFIX) :] if request.path.startswith(API_PREFIX + "/") else request.path
        record = RecordedRequest(request.method, path, dict(request.query), body, files, time.monotonic())
        info = request.match_info.route
        template = info.resource.canonical if info.resource is not None else ""
        record.route = template[len(API_PREFIX) :] if template.startswith(API_PREFIX + "/") else template
        self.requests.append(record)
        current_record.set(record)
        held = next((gate for method, pattern, gate in self.holds if _matches(record, method, pattern)), None)
        if held is not None:
            self._notify()  # a test may be waiting to see the request arrive
            await held.wait()  # released: the request is refused, never carried out (its sender may be dead)
            response_held = error_response(400, 0, "held by the test, then dropped")  # not 5xx: discord.py retries
            record.status = response_held.status
            record.response = response_held.payload if isinstance(response_held, JsonResponse) else None
            with contextlib.suppress(ConnectionError):  # the sender was killed while held
                await response_held.prepare(request)
                await response_held.write_eof()
            return response_held
        fault = self._fault_for(request.method, record.route)
        try:
            exempt = path.startswith(("/interactions/", "/webhooks/", "/gateway")) or not request.path.startswith(
                API_PREFIX + "/"
            )
            if fault is not None:
                record.injected = True
                response: web.StreamResponse = self._fault_response(fault)
            elif not exempt and request.headers.get("Authorization") != f"Bot {self.token}":
                self._violate("unauthorized", "REST call without 'Authorization: Bot <fake.token>'", record)
                response = error_response(401, 0, "401: Unauthorized")
            else:
                response = await handler(request)
        except Exception as exc:
            self._violate("fake_internal_error", "".join(traceback.format_exception(exc)), record)
            # 400, not 500: discord.py retries 5xx answers with growing sleeps.
            response = error_response(400, 0, f"fake Discord failed: {exc!r}")
        record.status = response.status
        record.response = response.payload if isinstance(response, JsonResponse) else None
        # Send the answer now, so "no request in flight" (see settle) means the bot has its answers.
        await response.prepare(request)
        await response.write_eof()
        return response

    def _record(self, request: web.Request) -> RecordedRequest:
        record = current_record.get()
        if record is None:
            raise RuntimeError(f"no record for {request.method} {request.path}")
        return record

    def _body(self, request: web.Request) -> Json:
        body = self._record(request).json
        return body if isinstance(body, dict) else {}

    async def _h_unhandled(self, request: web.Request) -> web.StreamResponse:
        record = current_record.get() if request.path.startswith("/api/") else None
        self._violate("unhandled_route", f"the fake does not implement {request.method} {request.path}", record)
        return error_response(404, 0, "404: Not Found")

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        stored = self.attachment_files.get(as_int(request.match_info["attachment_id"]) or 0)
        if stored is None:
            return web.Response(status=404)
        _filename, data, content_type = stored
        return web.Response(body=data, headers={"Content-Type": content_type})

    def _not_found(self, request: web.Request, what: str, code: int) -> web.Response:
        record = self._record(request)
        self._violate("not_found", f"{record.method} {record.path}: unknown {what}", record)
        return error_response(404, code, f"Unknown {what.title()}")

    # ------------------------------------------------------------------ interaction routes

    async def _h_callback(self, request: web.Request) -> web.StreamResponse:
        record = self._record(request)
        handle = self.interactions.get(as_int(request.match_info["interaction_id"]) or 0)
        if handle is None or handle.token != request.match_info["token"]:
            self._violate("unknown_interaction", "callback for an interaction the fake never sent", record)
            return error_response(404, 10062, "Unknown interaction")
        handle.requests.append(record)
        body = self._body(request)
        ctype = int(body.get("type") or 0)
        data: Json = body.get("data") or {}
        if handle.ack is not None:
            self._violate(
                "double_ack", f"{handle}: second initial response (type {ctype}; first was {handle.ack_type})", record
            )
            return error_response(400, 40060, "Interaction has already been acknowledged.")
        delay = record.at - handle.dispatched_at
        if delay > self.ack_timeout:
            self._ack_timeout(handle, record, f"was answered after {delay:.2f}s")
            return error_response(404, 10062, "Unknown interaction")
        if ctype not in ALLOWED_CALLBACKS[handle.type] or (
            ctype in (CALLBACK_DEFERRED_UPDATE, CALLBACK_UPDATE_MESSAGE) and handle.source_message is None
        ):
            self._violate("invalid_callback", f"{handle} cannot be answered with callback type {ctype}", record, handle)
            invalid = {"type": {"_errors": [{"code": "INTERACTION_RESPONSE_TYPE_INVALID", "message": "Invalid."}]}}
            return error_response(400, 50035, "Invalid Form Body", invalid)
        where = f"callback type {ctype} to {handle}"
        if ctype in (CALLBACK_CHANNEL_MESSAGE, CALLBACK_UPDATE_MESSAGE):
            existing = handle.source_message if ctype == CALLBACK_UPDATE_MESSAGE else None
            creating = ctype == CALLBACK_CHANNEL_MESSAGE
            errors = self._check_message(data, record, where, creating=creating, handle=handle, existing=existing)
        elif ctype == CALLBACK_MODAL:
            errors = self._check_modal(data, record, handle)
        elif ctype == CALLBACK_AUTOCOMPLETE:
            errors = self._check_choices(data, record, handle)
        else:
            errors = FormErrors()
        if errors:
            return self._form_error_response(errors, "data")
        handle.ack = record
        message: StoredMessage | None = None
        requested_flags = int(data.get("flags") or 0)
        if ctype == CALLBACK_CHANNEL_MESSAGE:
            flags = requested_flags & (SETTABLE_FLAGS | FLAG_EPHEMERAL)
            message = await self._create_message(
                handle.channel, data, record.files, author=self.bot_user, interaction=handle, flags=flags
            )
            handle.original, handle.answered = message, True
        elif ctype == CALLBACK_DEFERRED_CHANNEL_MESSAGE:
            flags = FLAG_LOADING | (requested_flags & FLAG_EPHEMERAL)
            message = await self._create_message(
                handle.channel, {}, [], author=self.bot_user, interaction=handle, flags=flags
            )
            handle.original = message
        elif ctype == CALLBACK_DEFERRED_UPDATE:
            handle.original = handle.source_message
        elif ctype == CALLBACK_UPDATE_MESSAGE and handle.source_message is not None:
            message = handle.source_message
            await self._edit_message(message, data, record.files)
            handle.original, handle.answered = message, True
        elif ctype == CALLBACK_AUTOCOMPLETE:
            handle.choices = list(data.get("choices") or [])
        elif ctype == CALLBACK_MODAL:
            handle.modal = OpenedModal(
                str(data["custom_id"]), str(data.get("title") or ""), list(data.get("components") or []), handle
            )
            self.modals.append(handle.modal)
        self._notify()
        if not truthy(record.query.get("with_response")):
            return no_content()
        resource: Json = {"type": ctype}
        if message is not None:
            resource["message"] = copy.deepcopy(message.data)
        response_message = message or (handle.original if ctype == CALLBACK_DEFERRED_UPDATE else None)
        return json_response(
            {
                "interaction": {
                    "id": str(handle.id),
                    "type": handle.type,
                    "activity_instance_id": None,
                    "response_message_id": str(response_message.id) if response_message else None,
                    "response_message_loading": ctype == CALLBACK_DEFERRED_CHANNEL_MESSAGE,
                    "response_message_ephemeral": bool(message and message.ephemeral),
                },
                "resource": resource,
            }
        )

    def _webhook_handle(self, request: web.Request) -> InteractionHandle | web.Response:
        record = self._record(request)
        handle = self._by_token.get(request.match_info["token"])
        if handle is None or request.match_info["application_id"] != str(self.application_id):
            self._violate("unknown_interaction", "webhook call with an unknown application id or token", record)
            return error_response(404, 10015, "Unknown Webhook")
        handle.requests.append(record)
        if handle.ack is None:
            self._violate("not_acknowledged", f"{record.method} {record.path} before {handle} was acknowledged", record)
            return error_response(404, 10015, "Unknown Webhook")
        return handle

    def _webhook_message(self, handle: InteractionHandle, message_id: str) -> StoredMessage | None:
        if message_id == "@original":
            message = handle.original
        else:
            wanted = as_int(message_id)
            candidates = [handle.original, *handle.followups]
            message = next((m for m in candidates if m is not None and m.id == wanted), None)
        return None if message is None or message.deleted else message

    async def _h_followup(self, request: web.Request) -> web.StreamResponse:
        handle = self._webhook_handle(request)
        if isinstance(handle, web.Response):
            return handle
        record = self._record(request)
        data = self._body(request)
        errors = self._check_message(data, record, f"followup to {handle}", creating=True, handle=handle)
        if errors:
            return self._form_error_response(errors)
        original = handle.original
        deferred = handle.ack_type == CALLBACK_DEFERRED_CHANNEL_MESSAGE
        if original is not None and original.loading and not original.deleted and deferred:
            # The first followup after a deferral fills the "thinking" message and keeps its ephemerality; once
            # that message is deleted, a followup is a message of its own.
            await self._edit_message(original, data, record.files)
            message = original
            handle.answered = True
        else:
            flags = int(data.get("flags") or 0) & (SETTABLE_FLAGS | FLAG_EPHEMERAL)
            message = await self._create_message(
                handle.channel, data, record.files, author=self.bot_user, interaction=handle, flags=flags
            )
        handle.followups.append(message)
        self._notify()
        return json_response(message.data) if truthy(record.query.get("wait")) else no_content()

    async def _h_webhook_get(self, request: web.Request) -> web.StreamResponse:
        handle = self._webhook_handle(request)
        if isinstance(handle, web.Response):
            return handle
        message = self._webhook_message(handle, request.match_info["message_id"])
        if message is None:
            return self._not_found(request, "message", 10008)
        return json_response(message.data)

    async def _h_webhook_edit(self, request: web.Request) -> web.StreamResponse:
        handle = self._webhook_handle(request)
        if isinstance(handle, web.Response):
            return handle
        record = self._record(request)
        message = self._webhook_message(handle, request.match_info["message_id"])
        if message is None:
            return self._not_found(request, "message", 10008)
        data = self._body(request)
        where = f"edit of {request.match_info['message_id']} for {handle}"
        errors = self._check_message(data, record, where, creating=False, handle=handle, existing=message)
        if errors:
            return self._form_error_response(errors)
        await self._edit_message(message, data, record.files)
        if message is handle.original:
            handle.answered = True
        self._notify()
        return json_response(message.data)

    async def _h_webhook_delete(self, request: web.Request) -> web.StreamResponse:
        handle = self._webhook_handle(request)
        if isinstance(handle, web.Response):
            return handle
        message = self._webhook_message(handle, request.match_info["message_id"])
        if message is None:
            return self._not_found(request, "message", 10008)
        await self._delete_message(message)
        return no_content()

    # ------------------------------------------------------------------ channel routes

    def _channel(self, request: web.Request) -> FakeChannel | web.Response:
        channel = self.channels.get(as_int(request.match_info["channel_id"]) or 0)
        return channel if channel is not None else self._not_found(request, "channel", 10003)

    def _channel_message(self, request: web.Request, channel: FakeChannel) -> StoredMessage | web.Response:
        message = self.messages.get(as_int(request.match_info["message_id"]) or 0)
        if message is None or message.deleted or message.channel_id != channel.id or message.ephemeral:
            return self._not_found(request, "message", 10008)
        return message

    async def _h_get_channel(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel(request)
        if isinstance(channel, web.Response):
            return channel
        return json_response(channel.payload())

    async def _h_create_message(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel(request)
        if isinstance(channel, web.Response):
            return channel
        record = self._record(request)
        data = self._body(request)
        errors = self._check_message(data, record, f"message in {channel.name}", creating=True)
        if errors:
            return self._form_error_response(errors)
        reference = None
        ref = data.get("message_reference")
        if ref and ref.get("message_id"):
            reference = self.messages.get(int(ref["message_id"]))
            if reference is None and ref.get("fail_if_not_exists", True):
                errors = FormErrors()
                errors.add("not_found", "message_reference", "REPLIES_UNKNOWN_MESSAGE", "Unknown message")
                self._violate("not_found", "reply to an unknown message", record)
                return self._form_error_response(errors)
        flags = int(data.get("flags") or 0) & SETTABLE_FLAGS
        message = await self._create_message(
            channel, data, record.files, author=self.bot_user, flags=flags, reference=reference
        )
        return json_response(message.data)

    async def _h_list_messages(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel(request)
        if isinstance(channel, web.Response):
            return channel
        query = request.query
        limit = min(int(query.get("limit", "50")), 100)
        before = as_int(query.get("before", ""))
        after = as_int(query.get("after", ""))
        found = [
            m
            for m in self.messages.values()
            if m.channel_id == channel.id
            and not m.deleted
            and not m.ephemeral
            and (before is None or m.id < before)
            and (after is None or m.id > after)
        ]
        found.sort(key=lambda m: m.id, reverse=True)
        return json_response([m.data for m in found[:limit]])

    async def _h_get_message(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel(request)
        if isinstance(channel, web.Response):
            return channel
        message = self._channel_message(request, channel)
        return message if isinstance(message, web.Response) else json_response(message.data)

    async def _h_edit_message(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel(request)
        if isinstance(channel, web.Response):
            return channel
        message = self._channel_message(request, channel)
        if isinstance(message, web.Response):
            return message
        record = self._record(request)
        if message.author_id != self.bot_user.id:
            self._violate("forbidden", f"editing {message!r}, which another user wrote", record)
            return error_response(403, 50005, "Cannot edit a message authored by another user")
        data = self._body(request)
        errors = self._check_message(data, record, f"edit of {message!r}", creating=False, existing=message)
        if errors:
            return self._form_error_response(errors)
        await self._edit_message(message, data, record.files)
        return json_response(message.data)

    async def _h_delete_message(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel(request)
        if isinstance(channel, web.Response):
            return channel
        message = self._channel_message(request, channel)
        if isinstance(message, web.Response):
            return message
        await self._delete_message(message)
        return no_content()

    def _check_thread_name(self, request: web.Request, name: str) -> web.Response | None:
        if 1 <= len(name) <= MAX_THREAD_NAME:
            return None
        errors = FormErrors()
        errors.add("thread_limits", "name", "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and 100 (got {len(name)}).")
        self._violate("thread_limits", f"thread name of {len(name)} characters", self._record(request))
        return self._form_error_response(errors)

    async def _add_thread(self, parent: FakeChannel, thread_id: int, body: Json, thread_type: int) -> FakeChannel:
        guild = self.guilds[parent.guild_id or 0]
        thread = FakeChannel(
            thread_id,
            str(body.get("name")),
            thread_type,
            guild.id,
            parent_id=parent.id,
            owner_id=self.bot_user.id,
            auto_archive_duration=int(body.get("auto_archive_duration") or 1440),
        )
        guild.threads[thread.id] = thread
        self.channels[thread.id] = thread
        # Sent before the REST answer, so the bot's cache knows the thread when create_thread returns.
        await self._broadcast_guild_event("THREAD_CREATE", {**thread.payload(), "newly_created": True})
        return thread

    async def _h_thread_from_message(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel(request)
        if isinstance(channel, web.Response):
            return channel
        message = self._channel_message(request, channel)
        if isinstance(message, web.Response):
            return message
        record = self._record(request)
        if channel.type not in (0, 5):
            return error_response(400, 50024, "Cannot execute action on this channel type")
        if message.id in self.channels:
            self._violate("thread_limits", f"a second thread on {message!r}", record)
            return error_response(400, 160004, "A thread has already been created for this message")
        body = self._body(request)
        refused = self._check_thread_name(request, str(body.get("name") or ""))
        if refused is not None:
            return refused
        thread = await self._add_thread(channel, message.id, body, 11)
        message.data["thread"] = thread.payload()
        message.data["flags"] = message.flags | FLAG_HAS_THREAD
        return json_response(thread.payload())

    async def _h_thread(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel(request)
        if isinstance(channel, web.Response):
            return channel
        if channel.type not in (0, 5):
            return error_response(400, 50024, "Cannot execute action on this channel type")
        body = self._body(request)
        refused = self._check_thread_name(request, str(body.get("name") or ""))
        if refused is not None:
            return refused
        thread = await self._add_thread(channel, self._snowflake(), body, int(body.get("type") or 12))
        return json_response(thread.payload())

    async def _h_typing(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel(request)
        return channel if isinstance(channel, web.Response) else no_content()

    # ------------------------------------------------------------------ users, guilds, application, gateway

    async def _h_create_dm(self, request: web.Request) -> web.StreamResponse:
        user = self.users.get(int(self._body(request).get("recipient_id") or 0))
        if user is None or user.bot:
            return self._not_found(request, "user", 10013)
        return json_response(self.dm_channel(user).payload())

    async def _h_me(self, request: web.Request) -> web.StreamResponse:
        return json_response({**self.bot_user.payload(), "verified": True, "mfa_enabled": False, "email": None})

    async def _h_get_user(self, request: web.Request) -> web.StreamResponse:
        user = self.users.get(as_int(request.match_info["user_id"]) or 0)
        return json_response(user.payload()) if user else self._not_found(request, "user", 10013)

    async def _h_get_member(self, request: web.Request) -> web.StreamResponse:
        guild = self.guilds.get(as_int(request.match_info["guild_id"]) or 0)
        member = guild.members.get(as_int(request.match_info["user_id"]) or 0) if guild else None
        return json_response(member.payload()) if member else self._not_found(request, "member", 10007)

    async def _h_application(self, request: web.Request) -> web.StreamResponse:
        return json_response(
            {
                "id": str(self.application_id),
                "name": self.bot_user.username,
                "icon": None,
                "description": "",
                "summary": "",
                "rpc_origins": [],
                "bot_public": True,
                "bot_require_code_grant": False,
                "bot": self.bot_user.payload(),
                "owner": self.app_owner.payload(),
                "team": None,
                "verify_key": "0" * 64,
                "flags": self._application_flags(),
                "tags": [],
                "redirect_uris": [],
                # Must stay null: with an endpoint URL Discord stops sending interactions over the gateway.
                "interactions_endpoint_url": None,
                "approximate_guild_count": len(self.guilds),
                "integration_types_config": {"0": {}},
            }
        )

    def _command_scope(self, request: web.Request) -> int | web.Response | None:
        if request.match_info["application_id"] != str(self.application_id):
            return self._not_found(request, "application", 10002)
        if "guild_id" not in request.match_info:
            return None
        guild_id = as_int(request.match_info["guild_id"]) or 0
        if guild_id not in self.guilds:
            self._violate("forbidden", f"commands for guild {guild_id}, which the bot is not in", self._record(request))
            return error_response(403, 50001, "Missing Access")
        return guild_id

    async def _h_get_commands(self, request: web.Request) -> web.StreamResponse:
        scope = self._command_scope(request)
        if isinstance(scope, web.Response):
            return scope
        return json_response(self.commands.get(scope, []))

    async def _h_put_commands(self, request: web.Request) -> web.StreamResponse:
        scope = self._command_scope(request)
        if isinstance(scope, web.Response):
            return scope
        record = self._record(request)
        body = record.json if isinstance(record.json, list) else []
        errors = self._check_commands(body, record)
        if errors:
            return self._form_error_response(errors)
        previous = {(c["name"], c.get("type", 1)): c for c in self.commands.get(scope, [])}
        stored = []
        for command in body:
            ctype = int(command.get("type", 1))
            earlier = previous.get((command["name"], ctype))
            entry: Json = {
                "description": "",
                "default_member_permissions": None,
                "nsfw": False,
                "contexts": None,
                "integration_types": [0],
                **command,
                "id": earlier["id"] if earlier else str(self._snowflake()),
                "application_id": str(self.application_id),
                "version": str(self._snowflake()),
                "type": ctype,
            }
            if ctype == 1:
                entry.setdefault("options", [])
            if scope is not None:
                entry["guild_id"] = str(scope)
            stored.append(entry)
        self.commands[scope] = stored
        return json_response(stored)

    async def _h_gateway_info(self, request: web.Request) -> web.StreamResponse:
        data: Json = {"url": self.gateway_url}
        if request.path.endswith("/bot"):
            data["shards"] = 1
            data["session_start_limit"] = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return json_response(data)


def _matches(record: RecordedRequest, method: str, pattern: str) -> bool:
    return record.method == method and re.fullmatch(pattern, record.path) is not None
