"""Who may change a server's knowledge and settings. Checked here, server-side, for every moderator action.

Discord's ``default_permissions`` only hides commands from members; it is a convenience, not a control.
"""

from __future__ import annotations

from bot.domain.errors import StudyBotError
from bot.domain.ports import Actor, GuildConfig


class NotModerator(StudyBotError):
    def __init__(self) -> None:
        super().__init__(
            "Only this server's moderators can do that: it needs the Manage Server permission "
            "or the moderator role set with `/config moderator-role`."
        )


def is_moderator(actor: Actor, config: GuildConfig | None) -> bool:
    if actor.trusted or actor.manage_guild:
        return True
    role = config.moderator_role_id if config else None
    return role is not None and role in actor.role_ids
