"""StudyBot: a study assistant for aspiring ML engineers, on Discord and in the terminal."""

__version__ = "0.1.0"
