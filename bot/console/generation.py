"""How a generated answer's provenance is shown in the terminal: one plain line after the answer."""

from __future__ import annotations

from bot.domain.generation import Generated


def describe(result: Generated) -> str:
    """ "generated (2 sentences dropped)" or "extractive: <why>", so a learner knows what they read."""
    if result.mode == "generated":
        dropped = len(result.dropped)
        return "Generated from the sources above" + (
            f"; {dropped} unsupported sentence{'s' * (dropped != 1)} dropped."
            if dropped
            else "; every sentence checked."
        )
    why = result.fallback_message or (result.fallback_reason or "")
    return f"Extractive answer ({result.fallback_reason}): {why}" if why else "Extractive answer."
