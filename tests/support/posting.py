"""A client that posts batches in a thread like a well-behaved app, for the fault tests: a 503 is retried after its
Retry-After with the same events (so a retried event that had landed after all is a duplicate for the sink to
drop), and every answer is kept with when it was asked and answered."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from tests.support.scenario import Event

REQUEST_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class Answer:
    sent: float  # time.monotonic() when the request left
    when: float  # and when its answer (or its failure) came
    status: int  # 0: no answer (a connection error or the request timed out)
    retry_after: str | None
    events: int

    @property
    def waited(self) -> float:
        return self.when - self.sent


@dataclass
class RetryingClient:
    """Posts `events` in batches of `batch_size`, `pause` seconds apart, until all are accepted or `stop` is called
    (the batch in hand is still posted until accepted, so every event sent is in `accepted` in the end)."""

    url: str
    events: list[Event]
    batch_size: int = 50
    pause: float = 0.0
    answers: list[Answer] = field(default_factory=list)
    accepted: list[Event] = field(default_factory=list)
    error: str = ""  # a 202 that refused some events: a defect the test reports
    thread: threading.Thread | None = None
    stopping: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for i in range(0, len(self.events), self.batch_size):
            if self.stopping.is_set():
                return
            batch = self.events[i : i + self.batch_size]
            if not self._post(batch):
                return
            time.sleep(self.pause)

    def _post(self, batch: list[Event]) -> bool:
        """Post one batch until it is accepted; False when a 202 refused some of its events."""
        while True:
            sent = time.monotonic()
            try:
                response = requests.post(
                    f"{self.url}/events/batch", json=batch, timeout=REQUEST_TIMEOUT_SECONDS
                )
                status, retry_after = response.status_code, response.headers.get("Retry-After")
            except requests.RequestException:
                response, status, retry_after = None, 0, None
            self.answers.append(Answer(sent, time.monotonic(), status, retry_after, len(batch)))
            if response is not None and status == 202:
                if response.json()["rejected"]:
                    self.error = f"a 202 refused events: {response.text[:300]}"
                    return False
                self.accepted.extend(batch)
                return True
            time.sleep(float(retry_after or 1))

    def answered(self, status: int) -> list[Answer]:
        return [answer for answer in self.answers if answer.status == status]

    def summary(self) -> str:
        statuses: dict[int, int] = {}
        for answer in self.answers:
            statuses[answer.status] = statuses.get(answer.status, 0) + answer.events
        accepted = statuses.get(202, 0)
        return f"client: {accepted} of {len(self.events)} events accepted; events by answer {statuses}"

    def join(self, timeout: float, diagnose: Callable[[], str]) -> None:
        """Wait until every event is accepted."""
        assert self.thread is not None
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise TimeoutError(
                f"the client did not get every batch accepted within {timeout}s\n{self.summary()}\n{diagnose()}"
            )
        assert not self.error, self.error

    def stop(self, timeout: float = 120) -> None:
        """Stop sending once the batch in hand is accepted."""
        self.stopping.set()
        assert self.thread is not None
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"the client is stuck\n{self.summary()}"
        assert not self.error, self.error
