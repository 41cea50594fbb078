"""The message pipeline: inbox, router, Rasa client, outbox and handoff."""
