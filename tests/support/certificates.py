"""Throwaway certificates made with the openssl command: CAs the broker does not know, keys that do not match."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=60)


def authority(directory: Path, name: str) -> Pair:
    """A self-signed CA."""
    directory.mkdir(parents=True, exist_ok=True)
    pair = Pair(directory / f"{name}.pem", directory / f"{name}.key")
    _openssl(
        "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
        "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign", "-keyout", pair.key, "-out", pair.cert,
    )  # fmt: skip
    return pair


def issue(directory: Path, name: str, ca: Pair, passphrase: str | None = None) -> Pair:
    """A certificate signed by `ca`, and its key (encrypted with `passphrase` when given)."""
    pair = Pair(directory / f"{name}.pem", directory / f"{name}.key")
    csr = directory / f"{name}.csr"
    encryption = ["-passout", f"pass:{passphrase}"] if passphrase else ["-nodes"]
    _openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", *encryption,
        "-subj", f"/CN={name}", "-keyout", pair.key, "-out", csr,
    )  # fmt: skip
    _openssl("x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-days", "2", "-out", pair.cert)
    csr.unlink()
    return pair
