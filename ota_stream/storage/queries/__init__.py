"""Analytics queries (spec §3). Every value from a request is a server-side parameter."""
