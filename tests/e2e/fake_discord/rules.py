"""The rules Discord enforces (and a few house rules) on what a bot sends: limits, form errors, checks.

A broken rule is recorded as a ``Violation`` of one of ``VIOLATION_KINDS``; where Discord would refuse the
request, the route answers with Discord's 50035 "Invalid Form Body" built from ``FormErrors``.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from tests.e2e.fake_discord.protocol import (
    BUTTON_STYLE_LINK,
    BUTTON_STYLE_PREMIUM,
    COMPONENT_ACTION_ROW,
    COMPONENT_BUTTON,
    COMPONENT_LABEL,
    COMPONENT_TEXT_INPUT,
    FLAG_IS_COMPONENTS_V2,
    OPTION_SUB_COMMAND,
    OPTION_SUB_COMMAND_GROUP,
    SELECT_TYPES,
    Json,
    shorten,
)
from tests.e2e.fake_discord.records import InteractionHandle, RecordedRequest, StoredMessage
from tests.e2e.fake_discord.responses import error_response

# Discord's limits (https://discord.com/developers/docs/resources/message and .../interactions).
MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TITLE = 256
MAX_EMBED_DESCRIPTION = 4096
MAX_EMBED_FIELDS = 25
MAX_EMBED_FIELD_NAME = 256
MAX_EMBED_FIELD_VALUE = 1024
MAX_EMBED_FOOTER = 2048
MAX_EMBED_AUTHOR = 256
MAX_EMBED_TOTAL = 6000
MAX_ACTION_ROWS = 5
MAX_ROW_BUTTONS = 5
MAX_CUSTOM_ID = 100
MAX_BUTTON_LABEL = 80
MAX_SELECT_OPTIONS = 25
MAX_MODAL_TITLE = 45
MAX_MODAL_COMPONENTS = 5
MAX_TEXT_INPUT_LABEL = 45
MAX_TEXT_INPUT_VALUE = 4000
MAX_CHOICES = 25
MAX_CHOICE_NAME = 100
MAX_THREAD_NAME = 100
MAX_COMMAND_NAME = 32
MAX_COMMAND_DESCRIPTION = 100
MAX_COMMAND_OPTIONS = 25
MAX_CHAT_INPUT_COMMANDS = 100
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024

VIOLATION_KINDS = (
    "double_ack",  # a second initial response to one interaction (Discord: 40060)
    "ack_timeout",  # no initial response within ack_timeout seconds of the dispatch (Discord: 10062 afterwards)
    "invalid_callback",  # a callback type the interaction does not accept (e.g. a modal answering a modal)
    "not_acknowledged",  # a followup or @original call before the initial response (Discord: 10015)
    "unknown_interaction",  # a callback or webhook call for an interaction the fake never dispatched
    "content_too_long",  # content over 2,000 characters
    "empty_message",  # a new message with nothing in it (Discord: 50006)
    "embed_limits",  # title, description, fields, footer, author, 6,000 total, 10 embeds
    "component_limits",  # 5 rows, 5 buttons a row, select alone in its row, custom_id 100, label 80, ...
    "modal_limits",  # title 45, 1-5 components, text input labels 45, ...
    "choices_limits",  # autocomplete: at most 25 choices, names 1-100
    "command_limits",  # synced commands: names, descriptions, option counts, required-first
    "thread_limits",  # thread names, a second thread on one message
    "allowed_mentions_missing",  # a message-creating or -editing payload without allowed_mentions
    "allowed_mentions_pings",  # allowed_mentions that lets anything but a replied-to user be pinged
    "forbidden",  # e.g. editing another user's message
    "not_found",  # an unknown channel, message, user or guild in a REST path
    "unauthorized",  # a REST call or IDENTIFY without the bot token
    "unhandled_route",  # a route the fake does not implement (so the bot's use of it is untested)
    "gateway_protocol",  # an unknown opcode or an out-of-order gateway payload
    "fake_internal_error",  # the fake itself raised; a bug to fix here
)


class FormErrors:
    """Discord's 50035 "Invalid Form Body" errors, grouped by violation kind."""

    def __init__(self) -> None:
        self.errors: Json = {}
        self.by_kind: dict[str, list[str]] = {}
        self.status_code = 50035
        self.status_message = "Invalid Form Body"

    def add(self, kind: str, path: str, code: str, message: str) -> None:
        node = self.errors
        for part in path.split("."):
            node = node.setdefault(part, {})
        node.setdefault("_errors", []).append({"code": code, "message": message})
        self.by_kind.setdefault(kind, []).append(f"{path}: {message}")

    def __bool__(self) -> bool:
        return bool(self.by_kind)


def _check_embeds(embeds: list[Json], errors: FormErrors) -> None:
    kind = "embed_limits"
    if len(embeds) > MAX_EMBEDS:
        errors.add(kind, "embeds", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_EMBEDS} or fewer in length.")
    total = 0
    for i, embed in enumerate(embeds):
        texts: list[tuple[str, Any, int]] = [
            (f"embeds.{i}.title", embed.get("title"), MAX_EMBED_TITLE),
            (f"embeds.{i}.description", embed.get("description"), MAX_EMBED_DESCRIPTION),
            (f"embeds.{i}.footer.text", (embed.get("footer") or {}).get("text"), MAX_EMBED_FOOTER),
            (f"embeds.{i}.author.name", (embed.get("author") or {}).get("name"), MAX_EMBED_AUTHOR),
        ]
        fields = list(embed.get("fields") or [])
        if len(fields) > MAX_EMBED_FIELDS:
            errors.add(kind, f"embeds.{i}.fields", "BASE_TYPE_MAX_LENGTH", f"{len(fields)} fields (limit 25)")
        for j, embed_field in enumerate(fields):
            for key, limit in (("name", MAX_EMBED_FIELD_NAME), ("value", MAX_EMBED_FIELD_VALUE)):
                text = str(embed_field.get(key) or "")
                if not text.strip():
                    errors.add(kind, f"embeds.{i}.fields.{j}.{key}", "BASE_TYPE_REQUIRED", "This field is required")
                texts.append((f"embeds.{i}.fields.{j}.{key}", text, limit))
        for path, text, limit in texts:
            length = len(str(text or ""))
            total += length
            if length > limit:
                errors.add(kind, path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length (got {length}).")
    if total > MAX_EMBED_TOTAL:
        errors.add(kind, "embeds", "MAX_EMBED_SIZE_EXCEEDED", f"Embed size {total} exceeds maximum size of 6000")


def _check_components(components: list[Json], flags: int, errors: FormErrors) -> None:
    kind = "component_limits"
    if not flags & FLAG_IS_COMPONENTS_V2:
        if len(components) > MAX_ACTION_ROWS:
            errors.add(kind, "components", "BASE_TYPE_MAX_LENGTH", f"{len(components)} action rows (limit 5)")
        for i, row in enumerate(components):
            if row.get("type") != COMPONENT_ACTION_ROW:
                errors.add(kind, f"components.{i}", "COMPONENT_LAYOUT", "Top-level components must be action rows")
                continue
            children = list(row.get("components") or [])
            if not children:
                errors.add(kind, f"components.{i}.components", "BASE_TYPE_MIN_LENGTH", "An action row cannot be empty")
            if any(c.get("type") in SELECT_TYPES for c in children) and len(children) > 1:
                errors.add(kind, f"components.{i}", "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "A select fills its whole row")
            elif len(children) > MAX_ROW_BUTTONS:
                errors.add(
                    kind, f"components.{i}", "BASE_TYPE_MAX_LENGTH", f"{len(children)} buttons in a row (limit 5)"
                )
    seen: set[str] = set()
    stack = [(f"components.{i}", c) for i, c in enumerate(components)]
    while stack:
        path, component = stack.pop()
        custom_id = component.get("custom_id")
        ctype = component.get("type")
        if custom_id is not None:
            if not 1 <= len(str(custom_id)) <= MAX_CUSTOM_ID:
                errors.add(kind, f"{path}.custom_id", "BASE_TYPE_BAD_LENGTH", f"custom_id of {len(custom_id)} (1-100)")
            if custom_id in seen:
                errors.add(kind, f"{path}.custom_id", "COMPONENT_CUSTOM_ID_DUPLICATED", f"duplicate {custom_id!r}")
            seen.add(custom_id)
        if ctype == COMPONENT_BUTTON:
            label = str(component.get("label") or "")
            if len(label) > MAX_BUTTON_LABEL:
                errors.add(kind, f"{path}.label", "BASE_TYPE_MAX_LENGTH", f"Button label of {len(label)} (limit 80)")
            style = component.get("style")
            if style == BUTTON_STYLE_LINK and not component.get("url"):
                errors.add(kind, f"{path}.url", "BASE_TYPE_REQUIRED", "A link button needs a url")
            if style not in (BUTTON_STYLE_LINK, BUTTON_STYLE_PREMIUM) and custom_id is None:
                errors.add(kind, f"{path}.custom_id", "BASE_TYPE_REQUIRED", "A button needs a custom_id")
        if ctype in SELECT_TYPES:
            options = list(component.get("options") or [])
            if len(options) > MAX_SELECT_OPTIONS:
                errors.add(kind, f"{path}.options", "BASE_TYPE_MAX_LENGTH", f"{len(options)} options (limit 25)")
            for k, option in enumerate(options):
                for key in ("label", "value", "description"):
                    if len(str(option.get(key) or "")) > 100:
                        errors.add(kind, f"{path}.options.{k}.{key}", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer")
            if len(str(component.get("placeholder") or "")) > 150:
                errors.add(kind, f"{path}.placeholder", "BASE_TYPE_MAX_LENGTH", "Must be 150 or fewer in length.")
        children = [(f"{path}.components.{k}", c) for k, c in enumerate(component.get("components") or [])]
        for key in ("component", "accessory"):
            if component.get(key):
                children.append((f"{path}.{key}", component[key]))
        stack.extend(children)


_COMMAND_NAME = re.compile(r"[-_'\w]{1,32}")


def _check_command_node(node: Json, path: str, errors: FormErrors, *, top_level: bool = False) -> None:
    kind = "command_limits"
    name = str(node.get("name") or "")
    if not _COMMAND_NAME.fullmatch(name) or name != name.lower():
        errors.add(kind, f"{path}.name", "APPLICATION_COMMAND_INVALID_NAME", f"{name!r}: 1-32 lowercase, no spaces")
    description = str(node.get("description") or "")
    if not 1 <= len(description) <= MAX_COMMAND_DESCRIPTION:
        errors.add(kind, f"{path}.description", "BASE_TYPE_BAD_LENGTH", f"{name}: description must be 1-100")
    options = list(node.get("options") or [])
    if len(options) > MAX_COMMAND_OPTIONS:
        errors.add(kind, f"{path}.options", "BASE_TYPE_MAX_LENGTH", f"{name}: {len(options)} options (limit 25)")
    names = [str(o.get("name")) for o in options]
    if len(set(names)) != len(names):
        errors.add(kind, f"{path}.options", "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", f"{name}: duplicates")
    seen_optional = False
    for k, option in enumerate(options):
        option_path = f"{path}.options.{k}"
        if option.get("type") in (OPTION_SUB_COMMAND, OPTION_SUB_COMMAND_GROUP):
            _check_command_node(option, option_path, errors)
            continue
        _check_command_node({**option, "options": []}, option_path, errors)
        if option.get("required"):
            if seen_optional:
                errors.add(kind, option_path, "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID", "required after optional")
        else:
            seen_optional = True
        choices = list(option.get("choices") or [])
        if len(choices) > MAX_CHOICES:
            errors.add(kind, f"{option_path}.choices", "BASE_TYPE_MAX_LENGTH", f"{len(choices)} choices (limit 25)")
        for c, choice in enumerate(choices):
            if not 1 <= len(str(choice.get("name") or "")) <= MAX_CHOICE_NAME:
                errors.add(kind, f"{option_path}.choices.{c}.name", "BASE_TYPE_BAD_LENGTH", "Must be 1-100.")
    if top_level:
        total = _command_text_length(node)
        if total > 4000:
            errors.add(kind, path, "APPLICATION_COMMAND_TOO_LARGE", f"{name}: {total} characters (limit 4000)")


def _command_text_length(node: Json) -> int:
    total = len(str(node.get("name") or "")) + len(str(node.get("description") or ""))
    for option in node.get("options") or []:
        total += _command_text_length(option)
        for choice in option.get("choices") or []:
            total += len(str(choice.get("name") or "")) + len(str(choice.get("value") or ""))
    return total


class RulesMixin:
    """The checks that need the fake's state (the interaction, the request); part of ``FakeDiscord``."""

    # ------------------------------------------------------------------ rules

    def _check_message(
        self,
        data: Json,
        request: RecordedRequest,
        where: str,
        *,
        creating: bool,
        handle: InteractionHandle | None = None,
        existing: StoredMessage | None = None,
    ) -> FormErrors:
        """Discord's message limits (refused with 50035) and the allowed_mentions house rule (recorded only)."""
        errors = FormErrors()
        content = data.get("content")
        if content is not None and len(str(content)) > MAX_CONTENT:
            errors.add(
                "content_too_long",
                "content",
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {MAX_CONTENT} or fewer in length (got {len(str(content))}).",
            )
        _check_embeds(list(data.get("embeds") or []), errors)
        flags = int(data.get("flags") or (existing.flags if existing else 0) or 0)
        _check_components(list(data.get("components") or []), flags, errors)
        if creating and not (
            content
            or data.get("embeds")
            or data.get("components")
            or data.get("attachments")
            or request.files
            or data.get("poll")
            or data.get("sticker_ids")
        ):
            errors.add("empty_message", "content", "BASE_TYPE_REQUIRED", "Cannot send an empty message")
            errors.status_code, errors.status_message = 50006, "Cannot send an empty message"
        for kind, problems in errors.by_kind.items():
            self._violate(kind, f"{where}: " + "; ".join(problems), request, handle)
        self._check_allowed_mentions(data, request, where, handle)
        return errors

    def _check_allowed_mentions(
        self, data: Json, request: RecordedRequest, where: str, handle: InteractionHandle | None
    ) -> None:
        allowed = data.get("allowed_mentions")
        preview = shorten(data.get("content") or "", 40)
        if allowed is None:
            self._violate(
                "allowed_mentions_missing", f"{where} has no allowed_mentions (content {preview!r})", request, handle
            )
            return
        parse = set(allowed.get("parse") or [])
        if parse & {"everyone", "users", "roles"} or allowed.get("users") or allowed.get("roles"):
            self._violate(
                "allowed_mentions_pings",
                f"{where} allows pings {allowed!r}; only replied_user may be enabled (content {preview!r})",
                request,
                handle,
            )

    def _form_error_response(self, errors: FormErrors, prefix: str = "") -> web.Response:
        body = {prefix: errors.errors} if prefix else errors.errors
        return error_response(400, errors.status_code, errors.status_message, body)

    def _check_modal(self, data: Json, request: RecordedRequest, handle: InteractionHandle) -> FormErrors:
        errors = FormErrors()
        title = str(data.get("title") or "")
        if not 1 <= len(title) <= MAX_MODAL_TITLE:
            errors.add("modal_limits", "title", "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {MAX_MODAL_TITLE}.")
        custom_id = str(data.get("custom_id") or "")
        if not 1 <= len(custom_id) <= MAX_CUSTOM_ID:
            errors.add("modal_limits", "custom_id", "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {MAX_CUSTOM_ID}.")
        components = list(data.get("components") or [])
        if not 1 <= len(components) <= MAX_MODAL_COMPONENTS:
            errors.add("modal_limits", "components", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
        for i, top in enumerate(components):
            path = f"components.{i}"
            if top.get("type") == COMPONENT_ACTION_ROW:
                children = list(top.get("components") or [])
                if len(children) != 1:
                    errors.add("modal_limits", path, "COMPONENT_LAYOUT", "A modal row holds exactly one component.")
                for child in children:
                    if child.get("type") == COMPONENT_TEXT_INPUT:
                        label = str(child.get("label") or "")
                        if not 1 <= len(label) <= MAX_TEXT_INPUT_LABEL:
                            errors.add("modal_limits", f"{path}.components.0.label", "BASE_TYPE_BAD_LENGTH", "1-45")
            elif top.get("type") == COMPONENT_LABEL:
                label = str(top.get("label") or "")
                if not 1 <= len(label) <= MAX_TEXT_INPUT_LABEL:
                    errors.add("modal_limits", f"{path}.label", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 45.")
                if not top.get("component"):
                    errors.add("modal_limits", f"{path}.component", "BASE_TYPE_REQUIRED", "A label needs a component.")
        for i, top in enumerate(components):
            children = list(top.get("components") or []) + ([top["component"]] if top.get("component") else [])
            for child in children:
                cid = str(child.get("custom_id") or "")
                if child.get("type") in {COMPONENT_TEXT_INPUT, *SELECT_TYPES} and not 1 <= len(cid) <= MAX_CUSTOM_ID:
                    errors.add("modal_limits", f"components.{i}", "BASE_TYPE_BAD_LENGTH", "custom_id must be 1-100")
                if child.get("type") == COMPONENT_TEXT_INPUT:
                    if len(str(child.get("value") or "")) > MAX_TEXT_INPUT_VALUE:
                        errors.add("modal_limits", f"components.{i}", "BASE_TYPE_MAX_LENGTH", "value over 4000")
                    if int(child.get("max_length") or 0) > MAX_TEXT_INPUT_VALUE:
                        errors.add("modal_limits", f"components.{i}", "NUMBER_TYPE_MAX", "max_length over 4000")
        for kind, problems in errors.by_kind.items():
            self._violate(kind, f"modal {custom_id!r}: " + "; ".join(problems), request, handle)
        return errors

    def _check_choices(self, data: Json, request: RecordedRequest, handle: InteractionHandle) -> FormErrors:
        errors = FormErrors()
        choices = list(data.get("choices") or [])
        if len(choices) > MAX_CHOICES:
            errors.add("choices_limits", "choices", "BASE_TYPE_MAX_LENGTH", f"{len(choices)} choices (limit 25)")
        for i, choice in enumerate(choices):
            if not 1 <= len(str(choice.get("name") or "")) <= MAX_CHOICE_NAME:
                errors.add("choices_limits", f"choices.{i}.name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100.")
            value = choice.get("value")
            if isinstance(value, str) and len(value) > MAX_CHOICE_NAME:
                errors.add("choices_limits", f"choices.{i}.value", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer.")
        for kind, problems in errors.by_kind.items():
            self._violate(kind, f"autocomplete for {handle}: " + "; ".join(problems), request, handle)
        return errors

    def _check_commands(self, commands: list[Json], request: RecordedRequest) -> FormErrors:
        errors = FormErrors()
        chat_input = [c for c in commands if c.get("type", 1) == 1]
        if len(chat_input) > MAX_CHAT_INPUT_COMMANDS:
            errors.add("command_limits", "_", "MAX_COMMANDS", f"{len(chat_input)} slash commands (limit 100)")
        seen: set[tuple[str, int]] = set()
        for i, command in enumerate(commands):
            ctype = int(command.get("type", 1))
            key = (str(command.get("name")), ctype)
            if key in seen:
                errors.add("command_limits", f"{i}.name", "APPLICATION_COMMANDS_DUPLICATE_NAME", f"duplicate {key[0]}")
            seen.add(key)
            if ctype == 1:
                _check_command_node(command, str(i), errors, top_level=True)
            elif not 1 <= len(key[0]) <= MAX_COMMAND_NAME:
                errors.add("command_limits", f"{i}.name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32.")
        for kind, problems in errors.by_kind.items():
            self._violate(kind, "command sync: " + "; ".join(problems), request)
        return errors
