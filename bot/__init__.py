"""The gateway: channel adapters, the durable inbox and outbox, handoff and the console."""
