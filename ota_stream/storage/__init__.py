"""ClickHouse access: the client, migrations, the event writer and the analytics queries."""
