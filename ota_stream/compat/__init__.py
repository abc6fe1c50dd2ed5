"""Real OTA clients' wire formats mapped onto the event model (docs/clients.md): one module per client, base.py shared.

The HTTP routes that use them are in ota_stream/web/compat.py; docs/clients.md has the mapping tables.
"""

# The paths the clients post to, as their own servers serve them (each module's docstring cites the source).
AIRBORNE = "/analytics/events"
CAPGO = "/capgo/stats"
CODEPUSH_DEPLOY = ("/v0.1/public/codepush/report_status/deploy", "/reportStatus/deploy")
CODEPUSH_DOWNLOAD = ("/v0.1/public/codepush/report_status/download", "/reportStatus/download")
HOT_UPDATER = "/hot-updater/events"
PATHS = (AIRBORNE, CAPGO, *CODEPUSH_DEPLOY, *CODEPUSH_DOWNLOAD, HOT_UPDATER)
KEY_PREFIX = "/c/{ingest_key}"  # the same routes with the ingest key in the path
