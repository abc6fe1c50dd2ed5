"""Analytics queries (docs/api.md#analytics). Every value from a request is a server-side parameter."""
