"""Alerts (docs/alerts.md): rules kept in a compacted topic, evaluated on the live windows by the worker that owns each
app, notifications kept in a changelogged Faust table until a signed webhook delivery succeeds. docs/alerts.md."""
