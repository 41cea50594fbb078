"""The gateway: channel adapters, durable inbox and outbox, handoff, the console."""
