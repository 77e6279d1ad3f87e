"""What a user does, injected into the bot: slash commands, autocomplete, clicks, modal submits, messages."""

# Every wait takes a bounded timeout= on purpose: tests read better than asyncio.timeout blocks around each call.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import copy
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

from tests.e2e.fake_discord.protocol import (
    COMPONENT_ACTION_ROW,
    COMPONENT_BUTTON,
    COMPONENT_CHECKBOX,
    COMPONENT_CHECKBOX_GROUP,
    COMPONENT_FILE_UPLOAD,
    COMPONENT_LABEL,
    COMPONENT_RADIO_GROUP,
    COMPONENT_STRING_SELECT,
    COMPONENT_TEXT_INPUT,
    DM_PERMISSIONS,
    INTERACTION_APPLICATION_COMMAND,
    INTERACTION_AUTOCOMPLETE,
    INTERACTION_COMPONENT,
    INTERACTION_MODAL_SUBMIT,
    OPTION_ATTACHMENT,
    OPTION_BOOLEAN,
    OPTION_CHANNEL,
    OPTION_INTEGER,
    OPTION_MENTIONABLE,
    OPTION_NUMBER,
    OPTION_ROLE,
    OPTION_STRING,
    OPTION_SUB_COMMAND,
    OPTION_SUB_COMMAND_GROUP,
    OPTION_USER,
    SELECT_TYPES,
    Json,
)
from tests.e2e.fake_discord.records import InteractionHandle, StoredMessage
from tests.e2e.fake_discord.rules import ATTACHMENT_SIZE_LIMIT, MAX_CUSTOM_ID, MAX_TEXT_INPUT_VALUE
from tests.e2e.fake_discord.world import FakeChannel, FakeGuild, FakeMember, FakeRole, FakeUser, Upload


def _infer_option_type(value: Any) -> int:
    if isinstance(value, bool):
        return OPTION_BOOLEAN
    if isinstance(value, int):
        return OPTION_INTEGER
    if isinstance(value, float):
        return OPTION_NUMBER
    if isinstance(value, Upload):
        return OPTION_ATTACHMENT
    if isinstance(value, FakeUser | FakeMember):
        return OPTION_USER
    if isinstance(value, FakeChannel):
        return OPTION_CHANNEL
    if isinstance(value, FakeRole):
        return OPTION_ROLE
    return OPTION_STRING


class InjectMixin:
    """Injecting users' interactions and messages; part of ``FakeDiscord``."""

    # ------------------------------------------------------------------ injecting interactions

    async def slash(
        self,
        user: FakeUser,
        guild: FakeGuild | None,
        channel: FakeChannel | None,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        subcommand: str | None = None,
        group: str | None = None,
    ) -> InteractionHandle:
        """A user runs ``/name [group] [subcommand] options…`` (``guild=None, channel=None``: in a DM with the bot).

        Option values are Python values (str, int, float, bool, FakeUser/FakeMember, FakeChannel, FakeRole,
        Upload); their types come from the synced command when there is one.
        """
        return await self._command_interaction(
            INTERACTION_APPLICATION_COMMAND, user, guild, channel, name, options or {}, subcommand, group, None
        )

    async def autocomplete(
        self,
        user: FakeUser,
        guild: FakeGuild | None,
        channel: FakeChannel | None,
        name: str,
        options: Mapping[str, Any],
        *,
        focused: str,
        subcommand: str | None = None,
        group: str | None = None,
    ) -> InteractionHandle:
        """A user is typing option ``focused`` of ``/name``; the bot answers with callback type 8."""
        if focused not in options:
            raise ValueError(f"focused option {focused!r} is not among the options {sorted(options)}")
        return await self._command_interaction(
            INTERACTION_AUTOCOMPLETE, user, guild, channel, name, options, subcommand, group, focused
        )

    async def click(
        self,
        user: FakeUser,
        message: StoredMessage,
        custom_id: str,
        *,
        values: Sequence[Any] | None = None,
        settle: bool = True,
    ) -> InteractionHandle:
        """A user clicks the button (or picks ``values`` in the select) with ``custom_id`` on ``message``.

        ``settle=False`` sends it at once, without first waiting for the bot's requests in flight (see ``settle``):
        for many users clicking together, once the bot has what the clicks need.
        """
        if message.deleted:
            raise ValueError(f"{message!r} was deleted")
        component = message.component(custom_id)
        if component is None:
            raise ValueError(f"{message!r} has no component {custom_id!r}; it has {message.custom_ids()}")
        if component.get("disabled"):
            raise ValueError(f"component {custom_id!r} on {message!r} is disabled")
        ctype = int(component["type"])
        data: Json = {"custom_id": custom_id, "component_type": ctype}
        if ctype == COMPONENT_BUTTON and values is not None:
            raise ValueError("buttons take no values")
        channel = self.channels[message.channel_id]
        guild = self.guilds.get(channel.guild_id) if channel.guild_id else None
        if ctype in SELECT_TYPES:
            data["values"], resolved = self._select_values(component, list(values or []), guild)
            if resolved:
                data["resolved"] = resolved
        handle = self._new_interaction(INTERACTION_COMPONENT, user, guild, channel, data, source_message=message)
        return await self._dispatch_interaction(handle, settle=settle)

    async def click_stale(
        self, user: FakeUser, message: StoredMessage, custom_id: str, *, settle: bool = True
    ) -> InteractionHandle:
        """A user clicks a button carrying ``custom_id`` that the bot's current version may never have sent.

        Stands in for a message posted by an older version of the bot, or a client that edits what it sends:
        Discord only lets users click components a message has, so the interaction carries a copy of ``message``
        whose first button has ``custom_id`` (the stored message is unchanged).
        """
        if not 1 <= len(custom_id) <= MAX_CUSTOM_ID:
            raise ValueError(f"Discord refuses a custom_id of {len(custom_id)} characters")
        data = copy.deepcopy(message.data)
        button = next(
            (c for row in data.get("components") or [] for c in row.get("components") or [] if c.get("type") == 2),
            None,
        )
        if button is None or "custom_id" not in button:
            raise ValueError(f"{message!r} has no button with a custom_id to stand in for")
        button["custom_id"] = custom_id
        channel = self.channels[message.channel_id]
        guild = self.guilds.get(channel.guild_id) if channel.guild_id else None
        handle = self._new_interaction(
            INTERACTION_COMPONENT,
            user,
            guild,
            channel,
            {"custom_id": custom_id, "component_type": COMPONENT_BUTTON},
            source_message=message,
        )
        handle.payload["message"] = data
        return await self._dispatch_interaction(handle, settle=settle)

    async def submit_modal(
        self, user: FakeUser, custom_id: str, values: Mapping[str, str | Sequence[str]], *, settle: bool = True
    ) -> InteractionHandle:
        """A user submits the modal the bot opened with ``custom_id``; ``values`` maps field custom_ids to input.

        Text inputs take a str, selects and checkbox groups a list of values, file uploads Uploads, a radio group a
        str and a checkbox a bool.
        """
        modal = next((m for m in reversed(self.modals) if m.custom_id == custom_id and not m.submitted), None)
        if modal is None:
            opened = [m.custom_id for m in self.modals if not m.submitted]
            raise ValueError(f"the bot has no open modal {custom_id!r}; open modals: {opened}")
        unused = set(values)
        resolved: Json = {}
        components: list[Json] = []
        for top in modal.components:
            ttype = top.get("type")
            if ttype == COMPONENT_ACTION_ROW:
                children = [self._submitted_field(c, values, unused, resolved) for c in top.get("components") or []]
                components.append({"type": COMPONENT_ACTION_ROW, "components": children})
            elif ttype == COMPONENT_LABEL:
                entry = {
                    "type": COMPONENT_LABEL,
                    "component": self._submitted_field(top["component"], values, unused, resolved),
                }
                if top.get("id") is not None:
                    entry["id"] = top["id"]
                components.append(entry)
            else:
                components.append({k: v for k, v in (("type", ttype), ("id", top.get("id"))) if v is not None})
        if unused:
            raise ValueError(f"modal {custom_id!r} has no fields {sorted(unused)}; it has {modal.field_ids()}")
        modal.submitted = True
        origin = modal.opened_by
        handle = self._new_interaction(
            INTERACTION_MODAL_SUBMIT,
            user,
            origin.guild,
            origin.channel,
            {"custom_id": custom_id, "components": components, **({"resolved": resolved} if resolved else {})},
            source_message=origin.source_message,
        )
        return await self._dispatch_interaction(handle, settle=settle)

    def _submitted_field(self, component: Json, values: Mapping[str, Any], unused: set[str], resolved: Json) -> Json:
        custom_id = component.get("custom_id")
        ctype = component.get("type")
        out: Json = {"type": ctype, "custom_id": custom_id}
        if component.get("id") is not None:
            out["id"] = component["id"]
        unused.discard(str(custom_id))
        if ctype == COMPONENT_TEXT_INPUT:
            value = str(values.get(str(custom_id), component.get("value") or ""))
            label = component.get("label") or custom_id
            if component.get("required", True) and not value:
                raise ValueError(f"text input {label!r} is required; Discord will not submit the modal without it")
            limit = min(int(component.get("max_length") or MAX_TEXT_INPUT_VALUE), MAX_TEXT_INPUT_VALUE)
            if len(value) > limit:
                raise ValueError(f"text input {label!r} takes at most {limit} characters")
            if value and len(value) < int(component.get("min_length") or 0):
                raise ValueError(f"text input {label!r} needs at least {component['min_length']} characters")
            out["value"] = value
        elif ctype in SELECT_TYPES or ctype == COMPONENT_CHECKBOX_GROUP:
            raw = values.get(str(custom_id), [])
            out["values"] = [raw] if isinstance(raw, str) else [str(v) for v in raw]
        elif ctype == COMPONENT_FILE_UPLOAD:
            uploads = values.get(str(custom_id), [])
            ids = []
            for upload in [uploads] if isinstance(uploads, Upload) else list(uploads):
                attachment = self._store_attachment(upload.filename, upload.data, upload.content_type)
                resolved.setdefault("attachments", {})[attachment["id"]] = attachment
                ids.append(attachment["id"])
            out["values"] = ids
        elif ctype == COMPONENT_RADIO_GROUP:
            out["value"] = values.get(str(custom_id))
        elif ctype == COMPONENT_CHECKBOX:
            out["value"] = bool(values.get(str(custom_id), False))
        return out

    def _select_values(self, component: Json, values: list[Any], guild: FakeGuild | None) -> tuple[list[str], Json]:
        low = int(component.get("min_values", 1))
        high = int(component.get("max_values", 1))
        if not low <= len(values) <= high:
            raise ValueError(f"select {component.get('custom_id')!r} takes {low}..{high} values, got {len(values)}")
        resolved: Json = {}
        if component["type"] == COMPONENT_STRING_SELECT:
            allowed = [o["value"] for o in component.get("options") or []]
            for value in values:
                if value not in allowed:
                    raise ValueError(f"{value!r} is not an option of select {component.get('custom_id')!r}: {allowed}")
            return [str(v) for v in values], resolved
        ids = []
        for value in values:
            option_type = OPTION_ROLE if isinstance(value, FakeRole) else OPTION_CHANNEL
            if isinstance(value, FakeUser | FakeMember):
                option_type = OPTION_USER
            ids.append(self._resolve_option(option_type, value, resolved, guild))
        return ids, resolved

    async def _command_interaction(
        self,
        itype: int,
        user: FakeUser,
        guild: FakeGuild | None,
        channel: FakeChannel | None,
        name: str,
        options: Mapping[str, Any],
        subcommand: str | None,
        group: str | None,
        focused: str | None,
    ) -> InteractionHandle:
        if channel is None:
            if guild is not None:
                raise ValueError("a guild interaction needs a channel")
            channel = self.dm_channel(user)
        command, command_guild = self._find_command(name, guild)
        schema: list[Json] | None = command.get("options", []) if command else None
        path = f"/{name}"
        for part, part_type in ((group, OPTION_SUB_COMMAND_GROUP), (subcommand, OPTION_SUB_COMMAND)):
            if part is None:
                continue
            path += f" {part}"
            if schema is not None:
                declared = next((o for o in schema if o["name"] == part and o["type"] == part_type), None)
                if declared is None:
                    raise ValueError(f"command {path!r} is not registered")
                schema = declared.get("options", [])
        resolved: Json = {}
        encoded = self._encode_options(path, schema, options, resolved, guild, focused, itype)
        if subcommand is not None:
            encoded = [{"type": OPTION_SUB_COMMAND, "name": subcommand, "options": encoded}]
        if group is not None:
            encoded = [{"type": OPTION_SUB_COMMAND_GROUP, "name": group, "options": encoded}]
        data: Json = {
            "id": command["id"] if command else str(self._snowflake()),
            "name": name,
            "type": 1,
            "options": encoded,
        }
        if resolved:
            data["resolved"] = resolved
        if command_guild is not None:
            data["guild_id"] = str(command_guild)
        handle = self._new_interaction(itype, user, guild, channel, data)
        return await self._dispatch_interaction(handle)

    def _find_command(self, name: str, guild: FakeGuild | None) -> tuple[Json | None, int | None]:
        if guild is not None:
            for command in self.commands.get(guild.id, []):
                if command["name"] == name and command.get("type", 1) == 1:
                    return command, guild.id
        for command in self.commands.get(None, []):
            if command["name"] == name and command.get("type", 1) == 1:
                return command, None
        return None, None

    def _encode_options(
        self,
        path: str,
        schema: list[Json] | None,
        options: Mapping[str, Any],
        resolved: Json,
        guild: FakeGuild | None,
        focused: str | None,
        itype: int,
    ) -> list[Json]:
        declared = {o["name"]: o for o in schema or []}
        if schema is not None:
            unknown = sorted(set(options) - set(declared))
            if unknown:
                raise ValueError(f"{path} has no options {unknown}; it declares {sorted(declared)}")
            missing = [n for n, o in declared.items() if o.get("required") and n not in options]
            if missing and itype == INTERACTION_APPLICATION_COMMAND:
                raise ValueError(f"{path} requires options {missing}; Discord will not send it without them")
        encoded = []
        for name, value in options.items():
            option_type = int(declared[name]["type"]) if name in declared else _infer_option_type(value)
            entry: Json = {"name": name, "type": option_type}
            if name == focused:
                entry["value"], entry["focused"] = str(value), True
            else:
                entry["value"] = self._resolve_option(option_type, value, resolved, guild)
                choices = declared.get(name, {}).get("choices")
                if choices and entry["value"] not in [c["value"] for c in choices]:
                    raise ValueError(f"{value!r} is not a choice of {path} {name}: {[c['value'] for c in choices]}")
            encoded.append(entry)
        return encoded

    def _resolve_option(self, option_type: int, value: Any, resolved: Json, guild: FakeGuild | None) -> Any:
        """The option's wire value, adding users, members, channels, roles and attachments to ``resolved``."""
        if option_type == OPTION_STRING:
            return str(value)
        if option_type == OPTION_INTEGER:
            return int(value)
        if option_type == OPTION_NUMBER:
            return float(value)
        if option_type == OPTION_BOOLEAN:
            return bool(value)
        if option_type == OPTION_ATTACHMENT:
            if not isinstance(value, Upload):
                raise TypeError(f"an attachment option takes an Upload, not {value!r}")
            attachment = self._store_attachment(value.filename, value.data, value.content_type, value.description)
            resolved.setdefault("attachments", {})[attachment["id"]] = attachment
            return attachment["id"]
        if option_type == OPTION_MENTIONABLE:
            option_type = OPTION_ROLE if isinstance(value, FakeRole) else OPTION_USER
        if option_type == OPTION_USER:
            user = value.user if isinstance(value, FakeMember) else value
            if not isinstance(user, FakeUser):
                user = self.users[int(value)]
            resolved.setdefault("users", {})[str(user.id)] = user.payload()
            if guild is not None and user.id in guild.members:
                member = guild.members[user.id].payload(include_user=False, permissions=guild.permissions_of(user.id))
                resolved.setdefault("members", {})[str(user.id)] = member
            return str(user.id)
        if option_type == OPTION_CHANNEL:
            channel = value if isinstance(value, FakeChannel) else self.channels[int(value)]
            perms = guild.permissions_of(self.bot_user.id) if guild else DM_PERMISSIONS
            resolved.setdefault("channels", {})[str(channel.id)] = channel.payload(permissions=perms)
            return str(channel.id)
        if option_type == OPTION_ROLE:
            role = value if isinstance(value, FakeRole) else (guild.roles[int(value)] if guild else None)
            if role is None:
                raise ValueError("role options need a guild")
            resolved.setdefault("roles", {})[str(role.id)] = role.payload()
            return str(role.id)
        raise ValueError(f"unsupported option type {option_type}")

    def _new_interaction(
        self,
        itype: int,
        user: FakeUser,
        guild: FakeGuild | None,
        channel: FakeChannel,
        data: Json,
        *,
        source_message: StoredMessage | None = None,
    ) -> InteractionHandle:
        interaction_id = self._snowflake()
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48)
        payload: Json = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": itype,
            "data": data,
            "token": token,
            "version": 1,
            "locale": "en-US",
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
            "channel_id": str(channel.id),
        }
        if guild is not None:
            member = guild.members.get(user.id)
            if member is None:
                raise ValueError(f"{user.username} is not a member of {guild.name!r}")
            user_permissions = guild.permissions_of(user.id)
            payload.update(
                guild_id=str(guild.id),
                guild={"id": str(guild.id), "locale": "en-US", "features": []},
                guild_locale="en-US",
                member=member.payload(permissions=user_permissions),
                channel=channel.payload(permissions=user_permissions),
                app_permissions=str(guild.permissions_of(self.bot_user.id)),
                authorizing_integration_owners={"0": str(guild.id)},
                context=0,
            )
        else:
            payload.update(
                user=user.payload(),
                channel=channel.payload(permissions=DM_PERMISSIONS),
                app_permissions=str(DM_PERMISSIONS),
                authorizing_integration_owners={"0": "0"},
                context=1,
            )
        if source_message is not None:
            payload["message"] = copy.deepcopy(source_message.data)
        return InteractionHandle(
            self,
            id=interaction_id,
            token=token,
            type=itype,
            payload=payload,
            user=user,
            guild=guild,
            channel=channel,
            source_message=source_message,
        )

    async def settle(self, timeout: float = 5.0) -> None:
        """Let the bot digest the answers to its requests before the next user action.

        A test acts at once where a person would take seconds: without this, a click could reach discord.py
        before the HTTP answer that made it store the message's view. Waits until no request is in flight for
        one short quiet period (the bot's own continuation runs within it).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            await self.wait_for(lambda: self._inflight == 0, timeout=max(deadline - loop.time(), 0.01), what="quiet")
            await asyncio.sleep(0.01)
            if self._inflight == 0:
                return

    async def _dispatch_interaction(
        self, handle: InteractionHandle, timeout: float = 10.0, *, settle: bool = True
    ) -> InteractionHandle:
        # Discord sends an interaction to one session: the newest of the shard that owns the guild.
        guild_id = int(handle.payload["guild_id"]) if handle.payload.get("guild_id") else None
        session = await self.wait_for(
            lambda: self.current_session(guild_id), timeout=timeout, what="the guild's gateway session"
        )
        if settle:
            await self.settle()
        self.interactions[handle.id] = handle
        self._by_token[handle.token] = handle
        handle.dispatched_at = time.monotonic()
        await self._send_dispatch(session, "INTERACTION_CREATE", handle.payload)
        task = asyncio.create_task(self._ack_watchdog(handle), name=f"fake-discord-ack-{handle.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return handle

    async def _ack_watchdog(self, handle: InteractionHandle) -> None:
        await asyncio.sleep(self.ack_timeout)
        if handle.ack is None:
            self._ack_timeout(handle, None, "was not acknowledged in time")

    # ------------------------------------------------------------------ injecting messages

    async def message(
        self,
        user: FakeUser,
        channel: FakeChannel,
        content: str,
        *,
        mentions: Sequence[FakeUser] = (),
        reply_to: StoredMessage | None = None,
    ) -> StoredMessage:
        """``user`` posts ``content`` in ``channel`` (a text channel, a thread or ``fake.dm_channel(user)``).

        Users named in ``<@id>`` mentions in the content are mentioned too.
        """
        await self.wait_connected()
        await self.settle()
        mentioned = list(mentions)
        for match in re.finditer(r"<@!?(\d+)>", content):
            found = self.users.get(int(match.group(1)))
            if found is not None and found not in mentioned:
                mentioned.append(found)
        return await self._create_message(
            channel, {"content": content}, [], author=user, mentions=mentioned, reference=reply_to
        )
