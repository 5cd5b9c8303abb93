"""Writes for chats and messages (services), one module per kind of write.

Everything is importable from ``chat.services`` directly.
"""

from chat.services.attachments import (
    attachment_create,
    attachment_delete,
    attachment_files_delete,
    attachments_for_message,
    attachments_send,
)
from chat.services.chats import (
    ChatBooks,
    chat_choose_greeting,
    chat_clear,
    chat_create,
    chat_delete,
    chat_fork,
    chat_rename,
    chat_set_lorebooks,
    chat_set_read_through,
    chat_set_scene,
    chat_set_settings,
    chat_set_title_if_untitled,
    chats_claim,
    reader_remember,
)
from chat.services.common import clean_content
from chat.services.messages import (
    message_delete,
    message_edit_reply,
    message_post,
    message_swipe,
)
from chat.services.replies import (
    ReplyEnd,
    replies_finish,
    replies_flush,
    replies_interrupt,
    replies_orphaned,
    reply_finish,
)
from chat.services.turns import (
    Turn,
    TurnStart,
    turn_continue,
    turn_edit,
    turn_regenerate,
    turn_speak,
    turn_start,
    turn_start_many,
)
from chat.services.user_personas import (
    user_persona_create,
    user_persona_delete,
    user_persona_update,
)

__all__ = [
    "ChatBooks",
    "ReplyEnd",
    "Turn",
    "TurnStart",
    "attachment_create",
    "attachment_delete",
    "attachment_files_delete",
    "attachments_for_message",
    "attachments_send",
    "chat_choose_greeting",
    "chat_clear",
    "chat_create",
    "chat_delete",
    "chat_fork",
    "chat_rename",
    "chat_set_lorebooks",
    "chat_set_read_through",
    "chat_set_scene",
    "chat_set_settings",
    "chat_set_title_if_untitled",
    "chats_claim",
    "clean_content",
    "message_delete",
    "message_edit_reply",
    "message_post",
    "message_swipe",
    "reader_remember",
    "replies_finish",
    "replies_flush",
    "replies_interrupt",
    "replies_orphaned",
    "reply_finish",
    "turn_continue",
    "turn_edit",
    "turn_regenerate",
    "turn_speak",
    "turn_start",
    "turn_start_many",
    "user_persona_create",
    "user_persona_delete",
    "user_persona_update",
]
