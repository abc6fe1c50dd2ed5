"""`ota-stream`: the worker, migrations, the load generator, and the CI gate."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
from pydantic import TypeAdapter, ValidationError

from ota_stream.config import load_settings

T = TypeVar("T")

# Faust's --loglevel spells the levels its own way.
FAUST_LOG_LEVELS = {"DEBUG": "debug", "INFO": "info", "WARNING": "warn", "ERROR": "error"}


@click.group()
def main() -> None:
    """OTA update analytics: HTTP ingest → Kafka → Faust → ClickHouse."""


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Run a worker: stream processing, analytics and live views, with ingest processes in front (roles.py).

    The stream processing is `faust -A ota_stream.app worker`, started after waiting for Kafka (kafka/broker.py).
    Extra options go to Faust."""
    import logging.config

    from faust.cli.faust import cli as faust_cli

    from ota_stream import app as worker_app
    from ota_stream import roles
    from ota_stream.config import WorkerRole
    from ota_stream.kafka import replication
    from ota_stream.kafka.broker import KafkaNotReachable, wait_for_kafka
    from ota_stream.logs import logging_config

    settings = load_settings()
    logging.config.dictConfig(logging_config(settings.logs.level.value))
    try:
        asyncio.run(wait_for_kafka(settings.kafka))
        asyncio.run(replication.prepare(settings.kafka))  # refuse unsafe settings, then create the topics
    except (KafkaNotReachable, replication.UnsafeReplication) as exc:
        logging.getLogger("ota_stream.kafka.broker").error("%s", exc)
        sys.exit(1)
    fronts: roles.Fronts | None = None
    socket = None
    fronting = settings.http.ingest_process_count()
    if settings.http.worker_role is WorkerRole.ALL and fronting:
        data_dir = settings.pipeline.data_dir
        socket = roles.worker_socket(data_dir)
        socket.unlink(missing_ok=True)  # left by a worker that was killed
        data_dir.mkdir(parents=True, exist_ok=True)
        fronts = roles.Fronts(data_dir, fronting, socket)
    worker_app.build(settings, socket)  # the `app` Faust finds in ota_stream.app
    # --quiet drops Faust's start-up banner from stdout, so that stdout carries only JSON log lines.
    args = [
        "-A",
        "ota_stream.app",
        "--quiet",
        "--loop",
        "uvloop",  # a faster event loop for every service of the worker (HTTP, Kafka client, Faust)
        "worker",
        "--loglevel",
        FAUST_LOG_LEVELS[settings.logs.level.value],
        *ctx.args,
    ]
    try:
        faust_cli.main(args=args, prog_name="ota-stream", standalone_mode=True)
    finally:
        if fronts is not None:
            fronts.stop()


@main.command()
def ingest() -> None:
    """Run INGEST_PROCESSES ingest processes alone on SERVER_PORT: POST /events and /events/batch, /health,
    /metrics. For deployments where ingest scales apart from stream processing (WORKER_ROLE=process)."""
    from ota_stream import roles

    settings = load_settings()
    count = settings.http.ingest_process_count(alone=True)
    if count <= 1:
        from ota_stream.web import front

        front.main(None)
        return
    # This process only watches its ingest processes: it imports none of what they serve.
    sys.exit(roles.supervise(roles.start_ingest_processes(settings.pipeline.data_dir, count, None)))


@main.group()
def keys() -> None:
    """API keys (docs/security.md), straight through the keys topic: no worker needs to run."""


def _with_keys(action: Callable[[Any], Awaitable[T]]) -> T:
    """Run `action(store)` with a KeyStore that has read the keys topic to its end."""
    import logging

    from ota_stream.auth.store import KeyStore

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # a new topic's first metadata races; it retries

    async def go() -> T:
        settings = load_settings()
        store = KeyStore(settings.kafka, settings.auth.admin_api_key)
        await store.start()
        try:
            await asyncio.wait_for(store.caught_up.wait(), 60)
            return await action(store)
        finally:
            await store.stop()

    return asyncio.run(go())


@keys.command("create")
@click.option("--tenant", required=True, help="The tenant the key belongs to.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    help="ingest, read or admin (repeat or comma-separate).",
)
@click.option("--org", default=None, help="Narrow an ingest key to one org.")
@click.option("--app", default=None, help="Narrow an ingest key to one app of --org.")
@click.option("--name", default=None, help="A label for people.")
def keys_create(
    tenant: str, scopes: tuple[str, ...], org: str | None, app: str | None, name: str | None
) -> None:
    """Make a key; it is printed alone on the last line, and shown nowhere else, ever."""
    from ota_stream.auth.keys import KeyScope
    from ota_stream.models import Identifier

    try:
        wanted = tuple(dict.fromkeys(KeyScope(part.strip()) for value in scopes for part in value.split(",")))
        for value in (tenant, org, app):
            if value is not None:
                TypeAdapter(Identifier).validate_python(value)
    except (ValueError, ValidationError) as exc:
        raise click.UsageError(f"{exc}") from None
    if app is not None and org is None:
        raise click.UsageError("--app needs --org")
    record, key = _with_keys(lambda store: store.create(tenant, wanted, org, app, name))
    for field, value in record.public().items():
        shown = ",".join(value) if isinstance(value, list) else ("-" if value is None else value)
        click.echo(f"{field}: {shown}")
    click.echo(key)


@keys.command("list")
@click.option("--tenant", default=None, help="Only this tenant's keys.")
def keys_list(tenant: str | None) -> None:
    """Every key (never a secret), oldest first, with when it was revoked if it was."""

    async def listing(store: Any) -> list[Any]:
        return store.of_tenant(tenant)

    for record in _with_keys(listing):
        data = record.public()
        click.echo(
            f"{data['key_id']}  {data['tenant_id']}  {','.join(data['scopes'])}  org={data['org_id'] or '*'}  "
            f"app={data['app_id'] or '*'}  created={data['created_at']}  revoked={data['revoked_at'] or '-'}  "
            f"{data['name'] or ''}".rstrip()
        )


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke a key: every worker refuses it within seconds."""
    record = _with_keys(lambda store: store.revoke(key_id))
    if record is None:
        raise click.ClickException(f"no key {key_id}")
    click.echo(f"revoked {record.key_id} at {record.revoked_at}")


@main.command()
def migrate() -> None:
    """Apply pending ClickHouse migrations and exit. Not while a worker holds the same chDB folder."""
    from ota_stream.storage.client import ClickHouse, ClickHouseConfig
    from ota_stream.storage.migrations import migrate as apply_migrations

    settings = load_settings()
    ch = ClickHouse(ClickHouseConfig.from_settings(settings.clickhouse, settings.pipeline.data_dir))
    try:
        ch.connect()
        applied = apply_migrations(ch, settings.pipeline.retention_days)
    except Exception as exc:
        click.echo(f"migrate failed: {exc}", err=True)
        sys.exit(1)
    finally:
        ch.close()
    for migration in applied:
        click.echo(f"applied {migration.version:03d}_{migration.name}")
    click.echo(f"{len(applied)} migration(s) applied; database {settings.clickhouse.database} is current")


@main.command()
@click.option(
    "--url", default="http://127.0.0.1:6400", show_default=True, help="Worker to POST /events/batch to."
)
@click.option(
    "--kafka", "brokers", default=None, help="Send straight to these Kafka brokers instead of HTTP."
)
@click.option("--topic", default="ota-events", show_default=True, help="Topic, with --kafka.")
@click.option(
    "--key",
    envvar="OTA_INGEST_KEY",
    default=None,
    help="An ingest key (or OTA_INGEST_KEY); it names the tenant.",
)
@click.option(
    "--events", "total", default=10_000, show_default=True, type=click.IntRange(1), help="How many."
)
@click.option("--rate", default=0.0, show_default=True, type=click.FloatRange(0), help="Events/s; 0 is max.")
@click.option(
    "--batch", default=500, show_default=True, type=click.IntRange(1, 1000), help="Events per request."
)
@click.option("--tenants", default=2, show_default=True, type=click.IntRange(1))
@click.option("--apps", default=4, show_default=True, type=click.IntRange(1))
@click.option("--devices", default=1000, show_default=True, type=click.IntRange(1))
@click.option("--seed", default=1, show_default=True, type=int)
def loadgen(
    url: str,
    brokers: str | None,
    topic: str,
    key: str | None,
    total: int,
    rate: float,
    batch: int,
    tenants: int,
    apps: int,
    devices: int,
    seed: int,
) -> None:
    """Generate realistic OTA traffic: rollouts, lifecycles, failures and rollbacks."""
    from ota_stream import loadgen as lg

    if key and tenants != 1:
        raise click.UsageError("an ingest key writes one tenant: use --tenants 1 with --key")
    fleet = lg.Fleet(tenants=tenants, apps=apps, devices=devices, seed=seed)

    async def go() -> lg.Summary:
        sink: lg.HttpSink | lg.KafkaSink
        if brokers:
            sink = lg.KafkaSink(brokers, topic)
            await sink.start()
        else:
            sink = lg.HttpSink(url, key)
        try:
            return await lg.run(sink, fleet, total, rate, batch)
        finally:
            await sink.close()

    started = time.monotonic()
    summary = asyncio.run(go())
    elapsed = time.monotonic() - started
    click.echo(
        f"sent {summary.sent} events in {elapsed:.1f}s ({summary.sent / elapsed:.0f}/s): "
        f"accepted {summary.accepted}, rejected {summary.rejected}, failed requests {summary.failed_requests}"
        + (f", HTTP statuses {dict(summary.statuses)}" if summary.statuses else "")
    )
    if summary.failed_requests or summary.rejected:
        sys.exit(1)


def _wait(ctx: click.Context, param: click.Parameter, value: str) -> float:
    from ota_stream.gate import wait_seconds

    try:
        return wait_seconds(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@main.command()
@click.option("--app", "app_id", required=True, help="The app.")
@click.option("--version", "version", required=True, help="The release to gate on.")
@click.option("--org", "org_id", default=None, help="The app's org (else the read key's, or every org).")
@click.option(
    "--wait", default="0s", callback=_wait, help="Keep asking this long for a verdict: 30s, 30m, 2h."
)
@click.option("--max-failure-rate", type=click.FloatRange(0, 100), default=None)
@click.option("--max-rollback-rate", type=click.FloatRange(0, 100), default=None)
@click.option("--max-crash-rate", type=click.FloatRange(0, 100), default=None)
@click.option("--min-devices", type=click.IntRange(1), default=None)
@click.option("--baseline", default=None, help="A version, or `previous`: fail on a significant regression.")
@click.option("--max-regression", type=click.FloatRange(0, 100), default=None, help="Points (default 1).")
@click.option("--hours", type=click.IntRange(1, 720), default=None, help="Of each side against the baseline.")
@click.option("--confidence", is_flag=True, help="Judge each maximum on the rate's 95 % interval.")
def gate(app_id: str, version: str, org_id: str | None, wait: float, **rules: Any) -> None:
    """Wait for a release's health verdict: exit 0 on pass, 1 on fail, 2 without one in time.

    Asks OTA_STREAM_URL's GET /analytics/releases/{version}/health with the read key OTA_STREAM_READ_KEY (whose
    tenant it is), with the gate's parameters given here, until the verdict is pass or fail or --wait ends."""
    import os

    from ota_stream.gate import NO_VERDICT, poll

    url, key = os.environ.get("OTA_STREAM_URL"), os.environ.get("OTA_STREAM_READ_KEY")
    if not url or not key:
        click.echo("OTA_STREAM_URL and OTA_STREAM_READ_KEY must be set", err=True)
        sys.exit(NO_VERDICT)
    params = {"app_id": app_id, **({"org_id": org_id} if org_id else {})}
    for name, value in rules.items():
        if value is not None and value is not False:
            params[name] = "true" if value is True else str(value)
    sys.exit(asyncio.run(poll(url, key, version, params, wait, click.echo)))


if __name__ == "__main__":
    main()
