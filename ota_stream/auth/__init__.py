"""Tenant isolation (docs/security.md): API keys with scopes, their distribution to every process, rate limits, and the
pseudonymisation of device ids.

- `keys`: what a key is, how it is made, shown once, hashed and checked in constant time.
- `store`: keys reach every process (workers and ingest processes alike) through a compacted Kafka topic.
- `limits`: per-key token buckets.
- `privacy`: device ids replaced before they reach Kafka.
"""
