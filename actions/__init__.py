"""The rasa-sdk actions and form validators of the Padang city service bot.

``rasa run actions --actions actions`` imports every module of this package and
registers each concrete :class:`rasa_sdk.Action` subclass under its ``name()``.
"""


class ActionsError(Exception):
    """Root of the errors raised by the actions package."""
