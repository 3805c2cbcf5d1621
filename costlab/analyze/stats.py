"""Small statistics for the analyzers: non-inferiority tests, sample sizes, the observed window.

Stdlib only (``statistics.NormalDist`` plus a Student-t built on the regularized incomplete
beta), so the numbers can be checked by hand and nothing heavy is imported.

Non-inferiority (docs/analyzers.md, Model downgrade): a cheaper *candidate* is accepted when the one-sided
(1 - alpha) lower confidence bound of ``candidate - current`` lies above ``-margin``. A one-sided
bound at alpha = 0.05 is the lower end of the two-sided 90% interval.

* Mean scores (0..1 judge or rubric scores): Welch's interval, ``d ± t_{1-α, ν} · sqrt(v1/n1 +
  v2/n2)`` with the Welch–Satterthwaite ν (sample variances with n - 1).
* Pass/fail (every score 0 or 1): Newcombe's hybrid score interval (method 10 of Newcombe 1998)
  from the two Wilson intervals; it keeps its coverage near 0 and 1 where Wald does not.

Sample size per arm for an unpaired non-inferiority test when the true difference is 0:
``n = 2 · ((z_{1-α} + z_{1-β}) · σ / δ)²`` (σ² = p(1 - p) for a pass rate). Example from the notes:
p = 0.9, δ = 0.02, α = 0.05, power 0.8: 2 · (2.48648 · 0.3 / 0.02)² = 2,782.2, so 2,783 per arm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from statistics import NormalDist
from typing import Any

_N = NormalDist()


def z(p: float) -> float:
    """The standard normal quantile."""
    return _N.inv_cdf(p)


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta (modified Lentz; Numerical Recipes 6.4)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    front = math.exp(lbeta + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """Student-t CDF."""
    if math.isinf(df):
        return _N.cdf(t)
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_ppf(p: float, df: float) -> float:
    """Student-t quantile (bisection on `t_cdf`; exact to ~1e-12)."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must be in (0, 1)")
    if math.isinf(df) or df > 1e7:
        return z(p)
    if p < 0.5:
        return -t_ppf(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-13:
            break
    return (lo + hi) / 2.0


@dataclass(frozen=True)
class Sample:
    """Summary of one arm: count, mean and sample variance (n - 1)."""

    n: int
    mean: float
    var: float

    @classmethod
    def of(cls, values: list[float]) -> Sample:
        n = len(values)
        mean = sum(values) / n if n else 0.0
        var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
        return cls(n, mean, var)


@dataclass(frozen=True)
class Interval:
    diff: float  # candidate - current
    lower: float
    upper: float
    method: str
    df: float | None = None


def welch(current: Sample, candidate: Sample, alpha: float = 0.05) -> Interval:
    """Two-sided (1 - 2·alpha) Welch interval of candidate - current (its lower end is the
    one-sided (1 - alpha) bound)."""
    if current.n < 2 or candidate.n < 2:
        raise ValueError("each arm needs at least 2 scores")
    a, b = current.var / current.n, candidate.var / candidate.n
    se = math.sqrt(a + b)
    diff = candidate.mean - current.mean
    if se == 0.0:
        return Interval(diff, diff, diff, "welch", math.inf)
    df = (a + b) ** 2 / (a * a / (current.n - 1) + b * b / (candidate.n - 1))
    half = t_ppf(1.0 - alpha, df) * se
    return Interval(diff, diff - half, diff + half, "welch", df)


def wilson(x: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Two-sided (1 - 2·alpha) Wilson score interval of x / n."""
    if n <= 0:
        raise ValueError("n must be positive")
    q = z(1.0 - alpha)
    p = x / n
    centre = (p + q * q / (2 * n)) / (1 + q * q / n)
    half = q / (1 + q * q / n) * math.sqrt(p * (1 - p) / n + q * q / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(x_cur: int, n_cur: int, x_cand: int, n_cand: int, alpha: float = 0.05) -> Interval:
    """Newcombe hybrid score interval of p_cand - p_cur (two-sided 1 - 2·alpha)."""
    p1, p2 = x_cand / n_cand, x_cur / n_cur
    l1, u1 = wilson(x_cand, n_cand, alpha)
    l2, u2 = wilson(x_cur, n_cur, alpha)
    d = p1 - p2
    lower = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Interval(d, lower, upper, "newcombe")


def n_per_arm(sigma: float, margin: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Unpaired non-inferiority sample size per arm (module docstring)."""
    if margin <= 0:
        raise ValueError("margin must be positive")
    k = (z(1.0 - alpha) + z(power)) * sigma / margin
    return max(2, math.ceil(2.0 * k * k))


@dataclass(frozen=True)
class NonInferiority:
    passed: bool
    interval: Interval
    margin: float
    alpha: float
    n_current: int
    n_candidate: int
    n_required: int
    reason: str

    def evidence(self) -> dict[str, Any]:
        return {
            "test": f"non-inferiority ({self.interval.method}), one-sided alpha {self.alpha}",
            "margin": self.margin,
            "difference": round(self.interval.diff, 6),
            "ci_lower": round(self.interval.lower, 6),
            "ci_upper": round(self.interval.upper, 6),
            "ci_level": round(1 - 2 * self.alpha, 6),
            "n_current": self.n_current,
            "n_candidate": self.n_candidate,
            "n_required_per_arm": self.n_required,
            "verdict": self.reason,
        }


def noninferior(
    current: list[float],
    candidate: list[float],
    margin: float = 0.02,
    alpha: float = 0.05,
    power: float = 0.8,
) -> NonInferiority:
    """Is ``candidate`` no worse than ``current`` by more than ``margin``? (raw scores)"""
    binary = all(v in (0.0, 1.0) for v in current + candidate)
    return noninferior_samples(
        Sample.of(current), Sample.of(candidate), binary, margin, alpha, power
    )


def noninferior_samples(
    cur: Sample,
    cand: Sample,
    binary: bool,
    margin: float = 0.02,
    alpha: float = 0.05,
    power: float = 0.8,
) -> NonInferiority:
    """Non-inferiority from arm summaries. Pass needs the lower bound above -margin **and** at
    least the planned sample size per arm (a lucky small sample is
    not evidence). Binary (pass/fail) arms use Newcombe, others Welch."""
    if binary:
        iv = newcombe(round(cur.mean * cur.n), cur.n, round(cand.mean * cand.n), cand.n, alpha)
        p = cur.mean
        sigma = math.sqrt(p * (1 - p)) if 0 < p < 1 else math.sqrt(0.09)
    else:
        iv = welch(cur, cand, alpha)
        sigma = math.sqrt(max(cur.var, cand.var)) or 1e-9
    need = n_per_arm(sigma, margin, alpha, power)
    if iv.lower <= -margin:
        reason = (
            f"lower bound {iv.lower:.4f} of candidate - current is at or below -{margin}: "
            "a loss larger than the margin is not ruled out"
        )
        ok = False
    elif min(cur.n, cand.n) < need:
        reason = f"interval passes but {min(cur.n, cand.n)} scores per arm < {need} required"
        ok = False
    else:
        reason = f"lower bound {iv.lower:.4f} > -{margin} with >= {need} scores per arm"
        ok = True
    return NonInferiority(ok, iv, margin, alpha, cur.n, cand.n, need, reason)


# -- window and settings -------------------------------------------------------------------------

DAYS_PER_MONTH = Decimal(30)


@dataclass(frozen=True)
class Window:
    """The observed window savings are scaled from: [start, end) in whole UTC days."""

    start: datetime
    end: datetime

    @property
    def days(self) -> int:
        return max(1, (self.end - self.start).days)

    @property
    def to_month(self) -> Decimal:
        """Multiply a window amount by this to get a 30-day month."""
        return DAYS_PER_MONTH / Decimal(self.days)

    def evidence(self) -> dict[str, Any]:
        return {
            "window_start": self.start.date().isoformat(),
            "window_end": self.end.date().isoformat(),
            "window_days": self.days,
            "scaled_to_days": 30,
        }


def window(
    first: datetime | None,
    last: datetime | None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Window | None:
    """The window: ``since``/``until`` where given, else the calendar days the calls cover
    (first call's UTC day to the day after the last call). None when there are no calls."""
    if first is None or last is None:
        return None

    def day(t: datetime) -> datetime:
        t = t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC)
        return datetime(t.year, t.month, t.day, tzinfo=UTC)

    start = day(since) if since else day(first)
    if until is not None:
        end = day(until)
        if end != until.astimezone(UTC):  # a bound inside a day counts that day
            end += timedelta(days=1)
    else:
        end = day(last) + timedelta(days=1)
    return Window(start, max(end, start + timedelta(days=1)))


def observed(frame: Any, since: datetime | None, until: datetime | None) -> Window | None:
    """`window` over a frame's ``first_call`` / ``last_call`` columns; None when it has no rows."""
    if frame.is_empty():
        return None
    return window(frame["first_call"].min(), frame["last_call"].max(), since, until)


def settings(config: dict[str, Any], name: str, defaults: dict[str, Any]) -> dict[str, Any]:
    """``[analyze.<name>]`` of the parsed costlab.toml ``config`` over ``defaults``."""
    section = (config.get("analyze") or {}).get(name) or {}
    out = dict(defaults)
    for k, v in section.items():
        if k in defaults:
            out[k] = type(defaults[k])(v) if isinstance(defaults[k], (int, float)) else v
    return out


# -- SQL helpers over the analyzers' connection (`Workspace.analysis_connection`) ---------


def prompts(con: Any) -> None:
    """Materialize ``analyze_prompts`` (queries/views/analyze_prompts.sql) on ``con`` once."""
    from costlab.sql import load_sql

    have = con.execute(  # fetchall: duckdb 2 keeps a half-fetched result open on the connection
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'analyze_prompts'"
    ).fetchall()[0][0]
    if not have:
        con.execute(f"CREATE TEMP TABLE analyze_prompts AS {load_sql('views/analyze_prompts')}")


def frame(
    con: Any, name: str, since: datetime | None, until: datetime | None, **params: Any
) -> Any:
    """Named query ``queries/<name>.sql`` with ``$since``/``$until`` (and any other named
    parameters) as a polars DataFrame."""
    from costlab.sql import load_sql

    return con.sql(load_sql(name), params={"since": since, "until": until, **params}).pl()


def money_of(value: Any) -> Decimal:
    """A DuckDB DECIMAL/number (None as 0) as Decimal."""
    if value is None:
        return Decimal(0)
    return value if isinstance(value, Decimal) else Decimal(str(value))


def add_latency(con: Any, findings: list[Any], since: datetime | None, until: datetime | None) -> None:
    """Put each finding's step latency now (``latency_p50_seconds`` / ``latency_p95_seconds``,
    queries/analyze/step_latency.sql) in its evidence: a cheaper model or the batch API changes
    it, so the reader sees what they trade."""
    if not findings:
        return
    lat = {
        (r["workflow"], r["step"]): (r["p50_seconds"], r["p95_seconds"])
        for r in frame(con, "analyze/step_latency", since, until).iter_rows(named=True)
    }
    for f in findings:
        p50, p95 = lat.get((f.workflow, f.step), (None, None))
        f.evidence["latency_p50_seconds"] = None if p50 is None else round(float(p50), 3)
        f.evidence["latency_p95_seconds"] = None if p95 is None else round(float(p95), 3)
