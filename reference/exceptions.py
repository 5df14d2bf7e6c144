"""Errors raised by the reference package: each message is fit to show an operator as is."""

from __future__ import annotations


class ReferenceDataError(Exception):
    """Reference data (shipped defaults or an operator's override) is missing or invalid.

    ``problems`` lists every problem found, each as ``file:line: what is wrong``, so that an
    operator can fix a file in one pass instead of one error per run.
    """

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        self.problems = problems
        if problems:
            shown = "\n".join(f"  {p}" for p in problems[:_SHOWN])
            more = len(problems) - _SHOWN
            tail = f"\n  ... and {more} more" if more > 0 else ""
            message = f"{message}\n{shown}{tail}"
        super().__init__(message)


_SHOWN = 25
