"""How fast ``parse_event`` validates messages on one core.

    python benchmarks/schema_validation.py [--events 200000] [--repeat 5]

The worker's budget is >= 50,000 events/s on one core *including* everything else, so
validation should stay near 10 µs per valid event. Prints the best of ``--repeat`` runs (the
least disturbed by other processes) for valid events, for a stream with 5 % rejects, and for
plain pydantic ``validate_json`` as a yardstick.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from pydantic import ValidationError

from schemas import EVENT_ADAPTER, BaseEvent, parse_event
from schemas.samples import SAMPLE_NOW, generate_events

_BROKEN = (
    b'{"kind":"payment.qr"}',
    b"not json",
    b'{"event_id":"x","kind":"payment.qr","source":"001099012345"}',
)


def _best_seconds(run: Callable[[], None], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def _report(label: str, seconds: float, count: int) -> None:
    print(f"{label:<34} {seconds / count * 1e6:7.2f} µs/event  {count / seconds:>10,.0f} events/s")


def _parse_all(messages: Sequence[bytes]) -> Callable[[], None]:
    def run() -> None:
        for raw in messages:
            parse_event(raw, now=SAMPLE_NOW)

    return run


def _pydantic_all(messages: Sequence[bytes]) -> Callable[[], None]:
    context = {"now": SAMPLE_NOW}

    def run() -> None:
        for raw in messages:
            with contextlib.suppress(ValidationError):
                EVENT_ADAPTER.validate_json(raw, strict=True, context=context)

    return run


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    valid = list(generate_events(args.events, seed=args.seed))
    accepted = sum(isinstance(parse_event(raw, now=SAMPLE_NOW), BaseEvent) for raw in valid)
    if accepted != len(valid):
        print(f"only {accepted} of {len(valid)} generated events are valid", file=sys.stderr)
        return 1
    rng = random.Random(args.seed)
    mixed = [rng.choice(_BROKEN) if rng.random() < 0.05 else raw for raw in valid]

    print(f"{len(valid):,} events, best of {args.repeat} runs")
    _report("parse_event, valid", _best_seconds(_parse_all(valid), args.repeat), len(valid))
    _report("parse_event, 5 % rejects", _best_seconds(_parse_all(mixed), args.repeat), len(mixed))
    _report(
        "pydantic validate_json (yardstick)",
        _best_seconds(_pydantic_all(valid), args.repeat),
        len(valid),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
