"""Windowed state in Faust tables (RocksDB through rocksdict), for the live views of docs/api.md#live-windows."""
