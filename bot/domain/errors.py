"""Typed errors whose message is safe to show a user as it is."""

from __future__ import annotations


class StudyBotError(Exception):
    """An error with a friendly, user-facing message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidQuestion(StudyBotError):
    pass


class KnowledgeError(StudyBotError):
    """The knowledge base could not be read; ``problems`` holds ``file:line: reason`` lines."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []
