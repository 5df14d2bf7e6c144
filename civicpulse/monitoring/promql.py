"""Small PromQL helpers: selectors, and the metric names an expression reads.

`metric_names` is a tokenizer, not a parser: it drops strings, label matchers, range/subquery
brackets and the label lists of ``by``/``without``/``on``/``ignoring``/``group_*``, then keeps
identifiers that are not functions, keywords or aggregation operators. That is enough for the
expressions this project writes, and it errs on the side of reporting a name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

_STRING: Final = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_BRACES: Final = re.compile(r"\{[^{}]*\}")
_BRACKETS: Final = re.compile(r"\[[^\[\]]*\]")
_LABEL_LIST: Final = re.compile(
    r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE
)
_IDENT: Final = re.compile(r"(?<![\w:.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")
_KEYWORDS: Final = frozenset(
    {
        "and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
        "group_left", "group_right", "inf", "nan", "atan2", "start", "end",
    }
)  # fmt: skip
# Grafana template-variable functions that look like PromQL calls.
_GRAFANA_FUNCTIONS: Final = frozenset({"label_values", "label_names", "metrics", "query_result"})
_LABEL_VALUES: Final = re.compile(r"^label_values\((.*),\s*[a-zA-Z_]\w*\s*\)$", re.DOTALL)


def selector(metric: str, **matchers: str) -> str:
    """``metric{a="x", b!~"y"}``: a value starting with ``!=``, ``=~`` or ``!~`` keeps its
    operator, anything else is an equality."""
    if not matchers:
        return metric
    parts = []
    for label, value in matchers.items():
        op = "="
        for candidate in ("!=", "=~", "!~"):
            if value.startswith(candidate):
                op, value = candidate, value[len(candidate) :]
                break
        parts.append(f'{label}{op}"{value}"')
    return f"{metric}{{{', '.join(parts)}}}"


def regex_alternatives(values: Iterable[str]) -> str:
    """``a|b|c`` for a label regex (values here are codes and kinds: dots escaped)."""
    return "|".join(re.escape(v) for v in sorted(set(values)))


def metric_names(expr: str) -> set[str]:
    """Every metric (or recorded series) name `expr` selects."""
    text = _LABEL_VALUES.sub(r"\1", expr.strip())  # Grafana: label_values(metric, label)
    text = _STRING.sub('""', text)
    # A metric can also be named inside braces: {__name__="x"}; this project never does.
    text = _BRACES.sub(" ", text)
    while True:
        stripped = _BRACKETS.sub(" ", text)
        if stripped == text:
            break
        text = stripped
    text = _LABEL_LIST.sub(" ", text)
    names: set[str] = set()
    for match in _IDENT.finditer(text):
        name, call = match.group(1), match.group(2)
        # `sum by (x) (...)` reads `sum   (` once the label list is gone: a call, skipped.
        if call or name.lower() in _KEYWORDS or name in _GRAFANA_FUNCTIONS:
            continue
        names.add(name)
    return names
