"""The gateway's exceptions, one root for the package::

GatewayError
├── ConfigError (ValueError)        a setting has the wrong shape
├── BadRequest (ValueError)         a webhook body that cannot be parsed -> 400
├── Forbidden                       a webhook that does not prove its origin -> 403
├── RasaUnavailable                 Rasa or the action server cannot answer now
├── UnknownConversation (KeyError)  no conversation has that id
└── SendError                       a platform refused or failed a send
    ├── RetryLater                  try again after ``retry_after`` seconds
    ├── Unreachable                 the resident blocked the bot: stop sending
    └── PermanentFailure            retrying cannot help (bad request, no template)
"""

from __future__ import annotations


class GatewayError(Exception):
    """Root of every error the gateway raises."""


class ConfigError(GatewayError, ValueError):
    """A setting is missing or has the wrong shape."""


class BadRequest(GatewayError, ValueError):
    """A webhook body that cannot be parsed."""


class Forbidden(GatewayError):
    """A webhook whose signature or secret token does not match."""


class RasaUnavailable(GatewayError):
    """Rasa or the action server cannot answer now; the message stays in the inbox."""


class UnknownConversation(GatewayError, KeyError):
    """No conversation has the given id."""

    def __init__(self, conversation_id: str) -> None:
        super().__init__(f"No conversation {conversation_id!r}.")
        self.conversation_id = conversation_id


class SendError(GatewayError):
    """A platform send failed; ``retry_after`` is None when no delay was asked for."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RetryLater(SendError):
    """The platform asked to wait (429, Twilio 20429/63018) or failed briefly."""


class Unreachable(SendError):
    """The resident cannot be reached (blocked the bot): do not retry."""


class PermanentFailure(SendError):
    """The platform refused the message for good."""
