"""Messages the bot creates, edits and deletes: stored with their history, attachments, and broadcast."""

from __future__ import annotations

import copy
import mimetypes
import re
from collections.abc import Sequence

from tests.e2e.fake_discord.gateway import GatewaySession, owns_guild
from tests.e2e.fake_discord.protocol import (
    FLAG_LOADING,
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILDS,
    INTENT_MESSAGE_CONTENT,
    INTERACTION_APPLICATION_COMMAND,
    SETTABLE_FLAGS,
    Json,
    now_iso,
)
from tests.e2e.fake_discord.records import InteractionHandle, RecordedFile, StoredMessage
from tests.e2e.fake_discord.world import FakeChannel, FakeUser


class MessagesMixin:
    """Storing and broadcasting messages; part of ``FakeDiscord``."""

    # ------------------------------------------------------------------ messages

    def _store_attachment(
        self, filename: str, data: bytes, content_type: str | None, description: str | None = None
    ) -> Json:
        attachment_id = self._snowflake()
        content_type = mimetypes.guess_type(filename)[0] or content_type or "application/octet-stream"
        self.attachment_files[attachment_id] = (filename, data, content_type)
        url = f"{self.base_url}/attachments/{attachment_id}/{filename}"
        attachment: Json = {
            "id": str(attachment_id),
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
            "ephemeral": False,
        }
        if description:
            attachment["description"] = description
        return attachment

    def _message_attachments(self, data: Json, files: list[RecordedFile], existing: list[Json]) -> list[Json]:
        uploads: dict[int, RecordedFile] = {}
        for upload in files:
            match = re.fullmatch(r"files\[(\d+)\]", upload.field)
            if match:
                uploads[int(match.group(1))] = upload
        declared = data.get("attachments")
        if declared is None:
            return existing + [
                self._store_attachment(f.filename or "file", f.data, f.content_type) for _, f in sorted(uploads.items())
            ]
        kept = {a["id"]: a for a in existing}
        out, used = [], set()
        for entry in declared:
            key = str(entry.get("id"))
            if key in kept:
                out.append(kept[key])
            elif key.isdigit() and int(key) in uploads:
                upload = uploads[int(key)]
                filename = entry.get("filename") or upload.filename or "file"
                out.append(self._store_attachment(filename, upload.data, upload.content_type, entry.get("description")))
                used.add(int(key))
        out += [
            self._store_attachment(f.filename or "file", f.data, f.content_type)
            for index, f in sorted(uploads.items())
            if index not in used
        ]
        return out

    async def _create_message(
        self,
        channel: FakeChannel,
        data: Json,
        files: list[RecordedFile],
        *,
        author: FakeUser,
        interaction: InteractionHandle | None = None,
        flags: int = 0,
        mentions: Sequence[FakeUser] = (),
        reference: StoredMessage | None = None,
    ) -> StoredMessage:
        message_id = self._snowflake()
        message_type = 0
        if interaction is not None and interaction.type == INTERACTION_APPLICATION_COMMAND:
            message_type = 20  # CHAT_INPUT_COMMAND
        if reference is not None:
            message_type = 19  # REPLY
        payload: Json = {
            "id": str(message_id),
            "channel_id": str(channel.id),
            "author": author.payload(),
            "content": data.get("content") or "",
            "timestamp": now_iso(),
            "edited_timestamp": None,
            "tts": bool(data.get("tts")),
            "mention_everyone": False,
            "mentions": [u.payload() for u in mentions],
            "mention_roles": [],
            "mention_channels": [],
            "attachments": self._message_attachments(data, files, []),
            "embeds": list(data.get("embeds") or []),
            "reactions": [],
            "pinned": False,
            "type": message_type,
            "flags": flags,
            "components": list(data.get("components") or []),
        }
        if data.get("nonce") is not None:
            payload["nonce"] = data["nonce"]
        if interaction is not None:
            payload["webhook_id"] = str(self.application_id)
            payload["application_id"] = str(self.application_id)
            metadata: Json = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": interaction.user.payload(),
                "authorizing_integration_owners": interaction.payload["authorizing_integration_owners"],
            }
            if interaction.source_message is not None:
                metadata["interacted_message_id"] = str(interaction.source_message.id)
            payload["interaction_metadata"] = metadata
        if reference is not None:
            payload["message_reference"] = {
                "type": 0,
                "message_id": str(reference.id),
                "channel_id": str(reference.channel_id),
            }
            if reference.guild_id:
                payload["message_reference"]["guild_id"] = str(reference.guild_id)
            payload["referenced_message"] = {k: v for k, v in reference.data.items() if k != "referenced_message"}
        stored = StoredMessage(payload, guild_id=channel.guild_id, interaction=interaction)
        self.messages[message_id] = stored
        channel.last_message_id = message_id
        if channel.is_thread:
            channel.message_count += 1
        if not stored.ephemeral:
            await self._broadcast_message("MESSAGE_CREATE", stored)
        self._notify()
        return stored

    async def _edit_message(self, message: StoredMessage, data: Json, files: list[RecordedFile]) -> None:
        message.history.append(copy.deepcopy(message.data))
        new = dict(message.data)
        if "content" in data:
            new["content"] = data["content"] or ""
        for key in ("embeds", "components"):
            if key in data:
                new[key] = list(data[key] or [])
        if "attachments" in data or files:
            new["attachments"] = self._message_attachments(data, files, list(message.data.get("attachments") or []))
        flags = message.flags
        if data.get("flags") is not None:
            flags = (flags & ~SETTABLE_FLAGS) | (int(data["flags"]) & SETTABLE_FLAGS)
        new["flags"] = flags & ~FLAG_LOADING
        new["edited_timestamp"] = now_iso()
        message.data = new
        if not message.ephemeral:
            await self._broadcast_message("MESSAGE_UPDATE", message)
        self._notify()

    async def _delete_message(self, message: StoredMessage) -> None:
        message.deleted = True
        if not message.ephemeral:
            data: Json = {"id": str(message.id), "channel_id": str(message.channel_id)}
            if message.guild_id:
                data["guild_id"] = str(message.guild_id)
            for session in self._live_sessions():
                if self._session_wants_message(session, message):
                    await self._send_dispatch(session, "MESSAGE_DELETE", data)
        self._notify()

    def _session_wants_message(self, session: GatewaySession, message: StoredMessage) -> bool:
        needed = INTENT_GUILD_MESSAGES if message.guild_id else INTENT_DIRECT_MESSAGES
        return bool(session.intents & needed) and owns_guild(session, message.guild_id)

    def _message_event(self, message: StoredMessage, session: GatewaySession) -> Json:
        data = copy.deepcopy(message.data)
        guild = self.guilds.get(message.guild_id) if message.guild_id else None
        if guild is not None:
            data["guild_id"] = str(guild.id)
            author = guild.members.get(message.author_id)
            if author is not None:
                data["member"] = author.payload(include_user=False)
            for mention in data["mentions"]:
                member = guild.members.get(int(mention["id"]))
                if member is not None:
                    mention["member"] = member.payload(include_user=False)
        # Without the MESSAGE_CONTENT intent Discord blanks other users' guild messages unless they mention the bot.
        mentions_bot = any(int(m["id"]) == self.bot_user.id for m in data["mentions"])
        if (
            guild is not None
            and not session.intents & INTENT_MESSAGE_CONTENT
            and message.author_id != self.bot_user.id
            and not mentions_bot
        ):
            data.update(content="", embeds=[], attachments=[], components=[])
        return data

    async def _broadcast_message(self, event: str, message: StoredMessage) -> None:
        for session in self._live_sessions():
            if self._session_wants_message(session, message):
                await self._send_dispatch(session, event, self._message_event(message, session))

    async def _broadcast_guild_event(self, event: str, data: Json) -> None:
        guild_id = int(data["guild_id"]) if data.get("guild_id") else None
        for session in self._live_sessions():
            if session.intents & INTENT_GUILDS and owns_guild(session, guild_id):
                await self._send_dispatch(session, event, data)
