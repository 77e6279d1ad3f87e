"""A fake Discord (REST API and gateway) for end-to-end tests of discord.py bots.

It is an aiohttp server on 127.0.0.1 that plays Discord's side closely enough for discord.py 2.7, records
everything the bot does, and enforces the rules Discord enforces (and a few house rules), so a test proves the
bot would behave on the real service.

Start it and build a world (the ``fake_discord`` fixture in ``tests/e2e/conftest.py`` does the first line; it
runs on the test's own loop, so mark e2e modules ``pytest.mark.asyncio(loop_scope="function")``)::

    async with FakeDiscord() as fake:
        world = fake.add_default_world()  # guild "Study Hall", #general and #study, alice (Learner) and bob

Build the world before the bot connects: READY and GUILD_CREATE carry it. Point discord.py at the fake.
``run_client`` sets ``Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY`` (and restores them), logs in with
``fake.token``, connects, waits for ``on_ready`` and closes the client on exit::

    bot = commands.Bot(..., allowed_mentions=discord.AllowedMentions.none(), guild_ready_timeout=0.1)
    async with run_client(bot, fake):
        ...

A bot that starts itself needs only ``with point_discord_py_at(fake):`` around it (or its settings
``STUDYBOT_DISCORD_API_BASE=fake.rest_base``, ``STUDYBOT_DISCORD_GATEWAY=fake.gateway_url`` and the token
``fake.token``).

Inject what a user would do. Interactions return an ``InteractionHandle`` whose waits follow the bot's answers::

    h = await fake.slash(world.user, world.guild, world.channel, "ask", {"question": "What is a tensor?"})
    reply = await h.wait_message()  # the @original once it is answered (not "thinking")
    click = await fake.click(world.user, reply, "quiz:next")  # any stored message, by a component's custom_id
    modal = await (await fake.slash(...)).wait_modal()
    await fake.submit_modal(world.user, modal.custom_id, {"answer": "42"})
    choices = await (await fake.autocomplete(..., {"topic": "ne"}, focused="topic")).wait_choices()
    sent = await fake.message(world.user, world.channel, f"{fake.bot_user.mention} hello")
    answer = await fake.wait_message(lambda m: m.reference_id == sent.id)

Every wait is bounded (``timeout=``, 5 s by default) and its ``TimeoutError`` describes what was recorded.
Before injecting, the fake lets the bot digest the answers to its requests (``settle``), as a person's reaction
time would: otherwise a click could reach discord.py before the HTTP answer that made it store the view.
Injected events go to the newest connected session; world changes after connecting are not broadcast.

Inspect ``fake.requests`` (every REST call: method, path under /api/v10, query, JSON body or ``payload_json``,
uploaded files, monotonic time, status and response), ``fake.messages`` (every message, ephemeral ones included,
with its edit history), ``fake.commands`` (synced commands by guild id, ``None`` for global), ``fake.modals``,
``fake.identifies`` and ``fake.events`` (every gateway dispatch).

Inject failures with ``fake.fail(method, route, status, times=n)``: the next ``n`` requests to a route from
``fake.api_routes()`` get a 429 (with ``retry_after``), a 500 or a 502 instead of an answer.

``fake.violations`` lists every broken rule: a second initial response, no acknowledgement within ``ack_timeout``
seconds, content, embed, component, modal and choice limits, a message payload without ``allowed_mentions`` or one
that lets it ping, unknown routes, and so on (see ``VIOLATION_KINDS``). Where Discord would refuse the request the
fake answers with Discord's error too. The conftest fixture fails a test that leaves violations behind;
``await fake.expect_violation(kind)`` consumes one the test provoked on purpose.

Modelled Discord behaviour worth knowing: the first followup after a deferral fills the "thinking" message (and
keeps its ephemerality); a callback after ``ack_timeout`` gets 10062; a followup before the callback gets 10015;
without the MESSAGE_CONTENT intent other users' guild messages arrive blank unless they mention the bot; the bot's
own non-ephemeral messages come back as MESSAGE_CREATE.

The package, one concern a module (every public name is re-exported here, so tests import from the package):
``world`` (users, guilds, roles, channels, members), ``records`` (requests, violations, messages, interactions),
``rules`` (Discord's limits and the checks that enforce them), ``gateway`` (websocket, sessions, shards),
``routes`` (the REST API), ``inject`` (what users do), ``messages`` (storing and broadcasting them),
``responses`` (HTTP plumbing), ``protocol`` (opcodes, flags, types) and ``client`` (pointing discord.py at the
fake). ``fake.FakeDiscord`` holds the state and combines the parts, each written as a mixin of it.
"""

from __future__ import annotations

from tests.e2e.fake_discord.client import (
    ClientT,
    point_discord_py_at,
    run_client,
)
from tests.e2e.fake_discord.fake import (
    FakeDiscord,
)
from tests.e2e.fake_discord.gateway import (
    GatewayConnection,
    GatewayMixin,
    GatewaySession,
)
from tests.e2e.fake_discord.inject import (
    InjectMixin,
)
from tests.e2e.fake_discord.messages import (
    MessagesMixin,
)
from tests.e2e.fake_discord.protocol import (
    ALL_PERMISSIONS,
    ALLOWED_CALLBACKS,
    API_PREFIX,
    BOT_ROLE_PERMISSIONS,
    BUTTON_STYLE_LINK,
    BUTTON_STYLE_PREMIUM,
    CALLBACK_AUTOCOMPLETE,
    CALLBACK_CHANNEL_MESSAGE,
    CALLBACK_DEFERRED_CHANNEL_MESSAGE,
    CALLBACK_DEFERRED_UPDATE,
    CALLBACK_MODAL,
    CALLBACK_UPDATE_MESSAGE,
    COMPONENT_ACTION_ROW,
    COMPONENT_BUTTON,
    COMPONENT_CHECKBOX,
    COMPONENT_CHECKBOX_GROUP,
    COMPONENT_FILE_UPLOAD,
    COMPONENT_LABEL,
    COMPONENT_RADIO_GROUP,
    COMPONENT_STRING_SELECT,
    COMPONENT_TEXT_INPUT,
    DEFAULT_EVERYONE_PERMISSIONS,
    DISCORD_EPOCH_MS,
    DM_PERMISSIONS,
    FLAG_EPHEMERAL,
    FLAG_HAS_THREAD,
    FLAG_IS_COMPONENTS_V2,
    FLAG_LOADING,
    FLAG_SUPPRESS_EMBEDS,
    FLAG_SUPPRESS_NOTIFICATIONS,
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILDS,
    INTENT_MESSAGE_CONTENT,
    INTERACTION_APPLICATION_COMMAND,
    INTERACTION_AUTOCOMPLETE,
    INTERACTION_COMPONENT,
    INTERACTION_MODAL_SUBMIT,
    INTERACTION_NAMES,
    OP_DISPATCH,
    OP_HEARTBEAT,
    OP_HEARTBEAT_ACK,
    OP_HELLO,
    OP_IDENTIFY,
    OP_INVALID_SESSION,
    OP_PRESENCE_UPDATE,
    OP_RECONNECT,
    OP_REQUEST_GUILD_MEMBERS,
    OP_RESUME,
    OP_VOICE_STATE_UPDATE,
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
    PERM_ADD_REACTIONS,
    PERM_ADMINISTRATOR,
    PERM_ATTACH_FILES,
    PERM_CREATE_PUBLIC_THREADS,
    PERM_EMBED_LINKS,
    PERM_MANAGE_MESSAGES,
    PERM_MANAGE_THREADS,
    PERM_READ_MESSAGE_HISTORY,
    PERM_SEND_MESSAGES,
    PERM_SEND_MESSAGES_IN_THREADS,
    PERM_USE_APPLICATION_COMMANDS,
    PERM_VIEW_CHANNEL,
    SELECT_TYPES,
    SETTABLE_FLAGS,
    Json,
    T,
)
from tests.e2e.fake_discord.records import (
    InjectedFault,
    InteractionHandle,
    OpenedModal,
    RecordedFile,
    RecordedRequest,
    StoredMessage,
    Violation,
)
from tests.e2e.fake_discord.routes import (
    RoutesMixin,
)
from tests.e2e.fake_discord.rules import (
    ATTACHMENT_SIZE_LIMIT,
    MAX_ACTION_ROWS,
    MAX_BUTTON_LABEL,
    MAX_CHAT_INPUT_COMMANDS,
    MAX_CHOICE_NAME,
    MAX_CHOICES,
    MAX_COMMAND_DESCRIPTION,
    MAX_COMMAND_NAME,
    MAX_COMMAND_OPTIONS,
    MAX_CONTENT,
    MAX_CUSTOM_ID,
    MAX_EMBED_AUTHOR,
    MAX_EMBED_DESCRIPTION,
    MAX_EMBED_FIELD_NAME,
    MAX_EMBED_FIELD_VALUE,
    MAX_EMBED_FIELDS,
    MAX_EMBED_FOOTER,
    MAX_EMBED_TITLE,
    MAX_EMBED_TOTAL,
    MAX_EMBEDS,
    MAX_MODAL_COMPONENTS,
    MAX_MODAL_TITLE,
    MAX_ROW_BUTTONS,
    MAX_SELECT_OPTIONS,
    MAX_TEXT_INPUT_LABEL,
    MAX_TEXT_INPUT_VALUE,
    MAX_THREAD_NAME,
    VIOLATION_KINDS,
    RulesMixin,
)
from tests.e2e.fake_discord.world import (
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    SnowflakeFactory,
    Upload,
    World,
    WorldMixin,
)

__all__ = [
    "ALLOWED_CALLBACKS",
    "ALL_PERMISSIONS",
    "API_PREFIX",
    "ATTACHMENT_SIZE_LIMIT",
    "BOT_ROLE_PERMISSIONS",
    "BUTTON_STYLE_LINK",
    "BUTTON_STYLE_PREMIUM",
    "CALLBACK_AUTOCOMPLETE",
    "CALLBACK_CHANNEL_MESSAGE",
    "CALLBACK_DEFERRED_CHANNEL_MESSAGE",
    "CALLBACK_DEFERRED_UPDATE",
    "CALLBACK_MODAL",
    "CALLBACK_UPDATE_MESSAGE",
    "COMPONENT_ACTION_ROW",
    "COMPONENT_BUTTON",
    "COMPONENT_CHECKBOX",
    "COMPONENT_CHECKBOX_GROUP",
    "COMPONENT_FILE_UPLOAD",
    "COMPONENT_LABEL",
    "COMPONENT_RADIO_GROUP",
    "COMPONENT_STRING_SELECT",
    "COMPONENT_TEXT_INPUT",
    "DEFAULT_EVERYONE_PERMISSIONS",
    "DISCORD_EPOCH_MS",
    "DM_PERMISSIONS",
    "FLAG_EPHEMERAL",
    "FLAG_HAS_THREAD",
    "FLAG_IS_COMPONENTS_V2",
    "FLAG_LOADING",
    "FLAG_SUPPRESS_EMBEDS",
    "FLAG_SUPPRESS_NOTIFICATIONS",
    "INTENT_DIRECT_MESSAGES",
    "INTENT_GUILDS",
    "INTENT_GUILD_MESSAGES",
    "INTENT_MESSAGE_CONTENT",
    "INTERACTION_APPLICATION_COMMAND",
    "INTERACTION_AUTOCOMPLETE",
    "INTERACTION_COMPONENT",
    "INTERACTION_MODAL_SUBMIT",
    "INTERACTION_NAMES",
    "MAX_ACTION_ROWS",
    "MAX_BUTTON_LABEL",
    "MAX_CHAT_INPUT_COMMANDS",
    "MAX_CHOICES",
    "MAX_CHOICE_NAME",
    "MAX_COMMAND_DESCRIPTION",
    "MAX_COMMAND_NAME",
    "MAX_COMMAND_OPTIONS",
    "MAX_CONTENT",
    "MAX_CUSTOM_ID",
    "MAX_EMBEDS",
    "MAX_EMBED_AUTHOR",
    "MAX_EMBED_DESCRIPTION",
    "MAX_EMBED_FIELDS",
    "MAX_EMBED_FIELD_NAME",
    "MAX_EMBED_FIELD_VALUE",
    "MAX_EMBED_FOOTER",
    "MAX_EMBED_TITLE",
    "MAX_EMBED_TOTAL",
    "MAX_MODAL_COMPONENTS",
    "MAX_MODAL_TITLE",
    "MAX_ROW_BUTTONS",
    "MAX_SELECT_OPTIONS",
    "MAX_TEXT_INPUT_LABEL",
    "MAX_TEXT_INPUT_VALUE",
    "MAX_THREAD_NAME",
    "OPTION_ATTACHMENT",
    "OPTION_BOOLEAN",
    "OPTION_CHANNEL",
    "OPTION_INTEGER",
    "OPTION_MENTIONABLE",
    "OPTION_NUMBER",
    "OPTION_ROLE",
    "OPTION_STRING",
    "OPTION_SUB_COMMAND",
    "OPTION_SUB_COMMAND_GROUP",
    "OPTION_USER",
    "OP_DISPATCH",
    "OP_HEARTBEAT",
    "OP_HEARTBEAT_ACK",
    "OP_HELLO",
    "OP_IDENTIFY",
    "OP_INVALID_SESSION",
    "OP_PRESENCE_UPDATE",
    "OP_RECONNECT",
    "OP_REQUEST_GUILD_MEMBERS",
    "OP_RESUME",
    "OP_VOICE_STATE_UPDATE",
    "PERM_ADD_REACTIONS",
    "PERM_ADMINISTRATOR",
    "PERM_ATTACH_FILES",
    "PERM_CREATE_PUBLIC_THREADS",
    "PERM_EMBED_LINKS",
    "PERM_MANAGE_MESSAGES",
    "PERM_MANAGE_THREADS",
    "PERM_READ_MESSAGE_HISTORY",
    "PERM_SEND_MESSAGES",
    "PERM_SEND_MESSAGES_IN_THREADS",
    "PERM_USE_APPLICATION_COMMANDS",
    "PERM_VIEW_CHANNEL",
    "SELECT_TYPES",
    "SETTABLE_FLAGS",
    "VIOLATION_KINDS",
    "ClientT",
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeMember",
    "FakeRole",
    "FakeUser",
    "GatewayConnection",
    "GatewayMixin",
    "GatewaySession",
    "InjectMixin",
    "InjectedFault",
    "InteractionHandle",
    "Json",
    "MessagesMixin",
    "OpenedModal",
    "RecordedFile",
    "RecordedRequest",
    "RoutesMixin",
    "RulesMixin",
    "SnowflakeFactory",
    "StoredMessage",
    "T",
    "Upload",
    "Violation",
    "World",
    "WorldMixin",
    "point_discord_py_at",
    "run_client",
]
