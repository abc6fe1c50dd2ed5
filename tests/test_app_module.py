"""`ota_stream.app` builds nothing when imported: the worker entry point builds the app, and `faust -A
ota_stream.app` still finds it (docs/operations.md#the-command-line)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run(script: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script],
        env={"PATH": "/usr/bin:/bin", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_importing_the_app_module_reads_no_setting_and_builds_nothing(tmp_path: Path) -> None:
    # A bad value would stop a process that loads the settings; importing must not even read them.
    result = run("import ota_stream.app as m; print(len(m._built))", tmp_path, BATCH_SIZE="lots")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"
    assert list(tmp_path.iterdir()) == []  # no data folder made, nothing started


def test_faust_finds_the_app_built_from_the_environment(tmp_path: Path) -> None:
    script = (
        "from faust.cli.base import find_app\n"
        "import ota_stream.app as m\n"
        "app = find_app('ota_stream.app')\n"
        "print(app is m.build(), type(app).__name__, app.conf.id)\n"
    )
    result = run(script, tmp_path, DATA_DIR=str(tmp_path / "data"), KAFKA_CONSUMER_GROUP="found-group")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "WorkerApp", "found-group"]
