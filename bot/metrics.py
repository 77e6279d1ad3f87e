"""Prometheus metrics: what an operator watches (answers, abstentions, quiz answers, errors, latency)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram, start_http_server

QUESTIONS = Counter("studybot_questions_total", "Questions answered", ["via", "outcome"])
ANSWER_SECONDS = Histogram(
    "studybot_answer_seconds", "Time to answer a question, off the event loop", buckets=(0.01, 0.05, 0.1, 0.5, 1, 5)
)
QUIZ_ANSWERS = Counter("studybot_quiz_answers_total", "Quiz answers recorded", ["correct"])
ERRORS = Counter("studybot_errors_total", "Unexpected errors shown to users with an error id")


def serve(port: int, host: str) -> None:
    """Expose /metrics; also what the container healthcheck polls."""
    start_http_server(port, addr=host)
