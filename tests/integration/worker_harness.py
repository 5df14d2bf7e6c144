"""Run the real `civicpulse worker` as a subprocess and read its /metrics like Prometheus does."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


class Worker:
    """One worker process with its own app id, web port and data dir; restartable."""

    def __init__(
        self, bootstrap: str, app_id: str, port: int, data_dir: Path, instance: str = "w"
    ) -> None:
        self.port = port
        self.log_path = data_dir / "worker.log"
        self.env = {
            **os.environ,
            "CIVICPULSE_KAFKA_BOOTSTRAP": bootstrap,
            "CIVICPULSE_APP_ID": app_id,
            "CIVICPULSE_INSTANCE_ID": f"{app_id}-{instance}",
            "CIVICPULSE_WEB_PORT": str(port),
            "CIVICPULSE_DATA_DIR": str(data_dir),
            "CIVICPULSE_LOG_LEVEL": "info",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "civicpulse", "worker"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(lambda: self.scrape() is not None, 60, "worker serves /metrics", self)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
        # The web port must be free before a restart binds it again.
        wait_until(lambda: self.scrape() is None, 20, "old worker released its port", self)

    def scrape(self) -> Samples | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
                text = r.read().decode()
        except OSError:
            return None
        out: Samples = defaultdict(dict)
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                out[s.name][tuple(sorted(s.labels.items()))] = s.value
        return out

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def wait_until(
    predicate: Callable[[], bool], timeout: float, what: str, worker: Worker | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    seen = ""
    if worker is not None:
        samples = worker.scrape()
        seen = f" (accounted now: {accounted(samples) if samples else 'no /metrics'})"
        if samples:  # this process's outcomes: "skipped" = re-sent records already held
            outcomes = samples.get("civicpulse_messages_processed_total", {})
            seen += f"\noutcomes: { {dict(k)['outcome']: int(v) for k, v in outcomes.items()} }"
        seen += "\n" + positions(worker)
    tail = worker.log_tail() if worker else ""
    raise AssertionError(f"timed out after {timeout}s waiting for: {what}{seen}\n{tail}")


def events_total(samples: Samples) -> dict[tuple[str, str], int]:
    return {
        (dict(labels)["kind"], dict(labels)["province"]): int(v)
        for labels, v in samples.get("civicpulse_events_total", {}).items()
    }


def by_label(samples: Samples, name: str, label: str) -> dict[str, int]:
    return {dict(k)[label]: int(v) for k, v in samples.get(name, {}).items() if v}


def accounted(samples: Samples) -> int:
    """Messages reflected in state: accepted + duplicates + rejects."""
    return (
        sum(events_total(samples).values())
        + sum(by_label(samples, "civicpulse_events_duplicate_total", "kind").values())
        + sum(by_label(samples, "civicpulse_events_rejected_total", "reason").values())
    )


def do_replay(bootstrap: str, *paths: Path) -> None:
    """Replay logs with the project's own replay (as `civicpulse replay` does)."""
    from producers.replay import replay

    summary = asyncio.run(replay(list(paths), bootstrap=bootstrap, progress=False))
    assert summary.sent > 0


def stop_all(*workers: Worker) -> None:
    for w in workers:
        if w.alive() and w.proc is not None:
            os.killpg(w.proc.pid, signal.SIGKILL)
            w.proc.wait(10)


def positions(worker: Worker) -> str:
    """Where each stage stands: committed offsets of both consumer groups against the topics'
    ends (which stage stopped, when a wait times out)."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient

    bootstrap = worker.env["CIVICPULSE_KAFKA_BOOTSTRAP"]
    app_id = worker.env["CIVICPULSE_APP_ID"]

    async def read() -> str:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
        await admin.start()
        await consumer.start()
        try:
            lines = []
            for group in (f"{app_id}-ingest", f"{app_id}-aggregate"):
                committed = await admin.list_consumer_group_offsets(group)
                ends = await consumer.end_offsets(list(committed))
                behind = {
                    f"{tp.topic}:{tp.partition}": ends[tp] - meta.offset
                    for tp, meta in sorted(committed.items())
                    if ends[tp] != meta.offset
                }
                lines.append(f"group {group}: behind the end by {behind or 'nothing'}")
                totals: dict[str, int] = {}
                for tp in committed:
                    totals[tp.topic] = totals.get(tp.topic, 0) + ends[tp]
                lines.append(f"  messages in its topics: {totals}")
            return "\n".join(lines)
        finally:
            await consumer.stop()
            await admin.close()

    try:
        return asyncio.run(read())
    except Exception as exc:  # a diagnostic must not hide the failure it explains
        return f"(positions unavailable: {exc!r})"
