"""Local fake platform servers for the tests (Telegram Bot API, Twilio REST API)."""
