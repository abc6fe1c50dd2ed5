"""The RocksDB options of every Faust table of the worker, bounded: Faust gives each database it opens (one per
table and partition) a 2 GiB block cache and three 64 MiB write buffers, sized for a machine of its own."""

from __future__ import annotations

from typing import Any

MIB = 1024 * 1024
DEFAULT_BLOCK_CACHE_MIB = 4  # LIVE_ROCKSDB_BLOCK_CACHE_MIB's default (config/groups.py)
DEFAULT_WRITE_BUFFER_MIB = 4  # LIVE_ROCKSDB_WRITE_BUFFER_MIB's default
WRITE_BUFFERS = 2  # one filling while the other is flushed


def store_options(
    block_cache_mib: int = DEFAULT_BLOCK_CACHE_MIB, write_buffer_mib: int = DEFAULT_WRITE_BUFFER_MIB
) -> dict[str, Any]:
    """`options` for `app.Table`: the rocksdict driver and a database's block cache and write buffers.

    A new dict on each call: Faust's store takes the driver out of the dict it is given.
    """
    return {
        "driver": "rocksdict",
        "block_cache_size": block_cache_mib * MIB,
        "write_buffer_size": write_buffer_mib * MIB,
        "max_write_buffer_number": WRITE_BUFFERS,
    }
