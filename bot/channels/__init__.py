"""Channel adapters: Telegram, WhatsApp (Twilio), the web chat page and the terminal."""
