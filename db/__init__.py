"""The city's records and the gateway's tables: models, engine, migrations, seed."""


class DatabaseError(Exception):
    """Root of the errors raised by the db package."""
