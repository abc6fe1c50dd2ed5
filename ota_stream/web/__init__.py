"""HTTP views: ingest, analytics, live windows, health, metrics and the OpenAPI document.

Importing this package loads neither Faust nor the ClickHouse client: the ingest processes (web/front.py) import
the views they serve and stay small (docs/operations.md#memory). The worker mounts the views into Faust's
web server with `kafka.faust_web.mount`.
"""
