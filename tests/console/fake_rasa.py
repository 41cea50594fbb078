"""The console tests' Rasa: the shared fake of tests/fakes/rasa.py answering as the bot
does when a resident asks for a human, for the tests that run before the model exists
(the flow with the real Rasa server is in test_browser.py).

"petugas" or "manusia" gets a reply and the ``handoff`` custom payload; anything else
gets "Bot: <text>".
"""

from __future__ import annotations

from typing import Any

from tests.fakes import rasa


async def handoff_on_request(
    sender: str, message: str, metadata: dict[str, Any]
) -> list[dict[str, Any]]:
    """Hand over when a human is asked for, otherwise answer ``Bot: <message>``."""
    text = message.lower()
    if "petugas" in text or "manusia" in text:
        return [
            {"recipient_id": sender, "text": "Baik, saya hubungkan ke petugas."},
            {"recipient_id": sender, "custom": {"handoff": {"reason": "requested"}}},
        ]
    return [{"recipient_id": sender, "text": f"Bot: {message}"}]


class FakeRasa(rasa.FakeRasa):
    """The shared fake with the handoff responder; ``messages`` and ``events`` name
    what it received and the tracker events posted to it."""

    def __init__(self) -> None:
        super().__init__(respond=handoff_on_request)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Every message posted to the REST channel."""
        return self.received

    @property
    def events(self) -> list[tuple[str, dict[str, Any]]]:
        """Every (sender, event) posted to a tracker."""
        return self.tracker_events
