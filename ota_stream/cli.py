"""`ota-stream`: the worker, migrations, and (later) the load generator."""

from __future__ import annotations

import sys

import click

from ota_stream.config import load_settings


@click.group()
def main() -> None:
    """OTA update analytics: HTTP ingest → Kafka → Faust → ClickHouse."""


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Run a worker; the same as `faust -A ota_stream.app worker`. Extra options go to Faust."""
    from faust.cli.faust import cli as faust_cli

    settings = load_settings()
    args = ["-A", "ota_stream.app", "worker", "--loglevel", settings.log_level.value.lower(), *ctx.args]
    faust_cli.main(args=args, prog_name="ota-stream", standalone_mode=True)


@main.command()
def migrate() -> None:
    """Apply pending ClickHouse migrations and exit. Not while a worker holds the same chDB folder."""
    from ota_stream.storage.client import ClickHouse, ClickHouseConfig
    from ota_stream.storage.migrations import migrate as apply_migrations

    settings = load_settings()
    ch = ClickHouse(ClickHouseConfig.from_settings(settings))
    try:
        ch.connect()
        applied = apply_migrations(ch, settings.retention_days)
    except Exception as exc:
        click.echo(f"migrate failed: {exc}", err=True)
        sys.exit(1)
    finally:
        ch.close()
    for migration in applied:
        click.echo(f"applied {migration.version:03d}_{migration.name}")
    click.echo(f"{len(applied)} migration(s) applied; database {settings.clickhouse_database} is current")


if __name__ == "__main__":
    main()
