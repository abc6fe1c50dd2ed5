"""TCP connections a process holds, read from /proc (Linux): how a test sees that clients it replaced let go of
their connections."""

from __future__ import annotations

import os
from pathlib import Path

ESTABLISHED = "01"  # the state column of /proc/net/tcp


def established(pid: int, ports: set[int]) -> int:
    """The established TCP connections of process `pid` to any of `ports` (IPv4, as 127.0.0.1 is)."""
    inodes = set()
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote_port = int(fields[2].rsplit(":", 1)[1], 16)
        if fields[3] == ESTABLISHED and remote_port in ports:
            inodes.add(fields[9])
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:[") and target[len("socket:[") : -1] in inodes:
            count += 1
    return count
