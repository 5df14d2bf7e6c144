"""Lower-tail tests for counts: negative binomial (Poisson when the shape is infinite), binomial.

Pure Python and cheap: callers test only the few cells whose observed/expected ratio already
passes the rule's threshold, so an exact sum of a few hundred terms is fine.
"""

from __future__ import annotations

import math

_EXACT_LIMIT = 5000  # beyond this many terms, a normal approximation (never reached by stalls)


def nb_cdf(observed: int, mean: float, shape: float) -> float:
    """P(X <= observed) for X negative binomial with this mean and gamma shape.

    Variance is mean + mean**2 / shape; shape = inf gives the Poisson distribution.
    """
    if observed < 0:
        return 0.0
    if mean <= 0.0:
        return 1.0
    if observed > _EXACT_LIMIT:
        var = mean + (mean * mean / shape if math.isfinite(shape) else 0.0)
        return _normal_cdf((observed + 0.5 - mean) / math.sqrt(var))
    if not math.isfinite(shape) or shape > 1e9:
        log_p = -mean  # Poisson: p(0) = e^-mean, p(x+1) = p(x) * mean / (x + 1)
        step_num, q = 0.0, mean
    else:
        q = mean / (shape + mean)
        log_p = shape * math.log(shape / (shape + mean))
        step_num = shape
    # Sum p(0..observed) in log space only once: terms grow then shrink, no underflow trouble
    # for the small tails we care about (they are what we want to be tiny).
    term = math.exp(log_p)
    if term == 0.0:
        return _log_sum_cdf(observed, log_p, step_num, q, math.isfinite(shape) and shape <= 1e9)
    total = term
    for x in range(observed):
        term *= (x + step_num) / (x + 1) * q if step_num else q / (x + 1)
        total += term
    return min(1.0, total)


def _log_sum_cdf(observed: int, log_p: float, shape: float, q: float, is_nb: bool) -> float:
    log_q = math.log(q)
    logs = [log_p]
    cur = log_p
    for x in range(observed):
        cur += (math.log((x + shape) / (x + 1)) if is_nb else -math.log(x + 1)) + log_q
        logs.append(cur)
    top = max(logs)
    return min(1.0, math.exp(top) * sum(math.exp(v - top) for v in logs))


def binom_lower_z(successes: int, trials: int, p: float, extra_var: float = 0.0) -> float:
    """z-score of `successes` out of `trials` against share `p`, variance inflated by
    `extra_var` * trials**2 (the uncertainty of `p` itself). Negative: fewer than expected."""
    if trials <= 0 or p <= 0.0:
        return 0.0
    var = trials * p * (1.0 - p) + extra_var * trials * trials
    if var <= 0.0:
        return 0.0
    return (successes + 0.5 - trials * p) / math.sqrt(var)


def _normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def normal_cdf(z: float) -> float:
    """P(Z <= z) for a standard normal."""
    return _normal_cdf(z)
