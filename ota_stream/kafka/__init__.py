"""Kafka: the only package that touches aiokafka or Faust's internals.

- `options`: client options (security, SASL, TLS) from settings, for Faust, the ingest producer and admin clients.
- `envelope`: the wire format of the events topic, one Kafka message carrying the rows of many events.
- `producer`: the ingest producer (acks=all, idempotent), coalescing concurrent sends into envelopes.
- `topics`, `broker`: waiting out a broker that is away.
"""
