"""`ota-stream gate` without a worker: how long it waits, and what each answer of the health route means for it
(the exit codes against a real worker are in test_gate_e2e.py)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from ota_stream.cli import main
from ota_stream.gate import NO_VERDICT, read, wait_seconds


def test_waits_are_seconds_minutes_or_hours() -> None:
    assert [wait_seconds(text) for text in ("45s", "30m", "2h", "1.5h", "0s")] == [45, 1800, 7200, 5400, 0]
    for bad in ("30", "m", "30d", "-5m", "5 minutes", ""):
        with pytest.raises(ValueError, match="s, m or h"):
            wait_seconds(bad)


def test_each_answer_means_a_verdict_another_try_or_the_end() -> None:
    failing = {"data": {"version": "2.4.0", "verdict": "fail", "devices_attempted": 412,
                        "reasons": ["failure_rate 9.0 is above max_failure_rate 5"]}}  # fmt: skip
    outcome = read(200, failing)
    assert (outcome.verdict, outcome.final) == ("fail", True)
    assert outcome.lines == [
        "verdict: fail (2.4.0, 412 devices)",
        "- failure_rate 9.0 is above max_failure_rate 5",
    ]
    unsure = read(200, {"data": {**failing["data"], "verdict": "insufficient_data", "reasons": []}})
    assert (unsure.verdict, unsure.final) == ("insufficient_data", False)  # ask again
    detail = {"field": "max_failure_rate", "message": "must be a number"}
    refused = read(422, {"error": {"code": "validation_failed", "message": "bad", "details": [detail]}})
    assert refused.final and refused.verdict is None
    assert refused.lines == ["HTTP 422: bad", "- max_failure_rate: must be a number"]
    for status in (429, 500, 503):
        assert not read(status, {"error": {"message": "later"}}).final  # waiting may cure these
    assert not read(502, None).final


def test_without_the_url_or_the_key_there_is_no_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTA_STREAM_URL", raising=False)
    monkeypatch.delenv("OTA_STREAM_READ_KEY", raising=False)
    result = CliRunner().invoke(main, ["gate", "--app", "shop", "--version", "2.4.0"])
    assert result.exit_code == NO_VERDICT and "OTA_STREAM_URL" in result.output
    bad_wait = CliRunner().invoke(main, ["gate", "--app", "shop", "--version", "2.4.0", "--wait", "30"])
    assert bad_wait.exit_code == 2 and "--wait" in bad_wait.output
