"""Budgets and cost anomalies for cron: each breach prints one clear line and sets the exit code.

Exit codes of ``costlab report`` (documented in the README):

* 0 - no alert of a kind named by ``--fail-on`` (default ``budget,anomaly``);
* 1 - an error (`CostlabError`), 2 - a usage error (typer);
* ``EXIT_BUDGET`` = 3 - a budget was exceeded (wins when there are anomalies too);
* ``EXIT_ANOMALY`` = 4 - a day's cost was anomalous and no budget was exceeded.

``--fail-on none`` (or ``--no-fail``) prints the alerts and exits 0. Forecast alerts (kind
``forecast``: a partial month on track to exceed its budget) are warnings and never change the
exit code, because a linear extrapolation of a few days is not a fact about money spent.

Input is a polars frame ``(scope, name, day, currency, cost)`` - ``queries/daily_cost_by_scope.sql``
for traced calls, or allocated billed money in the same shape - or the same rows as `DailyRows`
(the report's path: importing polars is a tenth of a second of a nightly run). Rows sharing a
key are summed, so pass one money basis. Currencies are never mixed: a budget only sees spend in
its own currency.

Budgets (``[budgets]`` / ``--budget``): spend in each calendar month (UTC) overlapping
``[since, until)``, counted from the month's first day (month to date, even when ``since`` is
later: query from `history_start`) up to ``until``; a breach is spend > amount (equal is within
budget). ``period = "day"`` budgets check each day of the period.

Anomalies (``[anomaly]``): a day is anomalous when its cost exceeds
``median + max(k * 1.4826 * MAD, min_rel * median, min_abs)`` over the ``window`` calendar days
before it (1.4826 * MAD estimates the standard deviation of normal noise, ignoring outliers).
A series (scope, name, currency) starts on its first day in the data: days without cost after it
count as 0 (nothing ran, so nothing was spent); days before it are not history. A day needs
``min_history`` such prior days, and a series idle on most of its window (median 0) is not
judged: every active day would look like a spike. ``min_rel = 1`` means a day must at least double
its median, so noise within +-33% of a level can never alert (tested as a property).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext
from typing import TYPE_CHECKING, Any

from costlab.errors import CostlabError
from costlab.periods import next_month

if TYPE_CHECKING:
    import polars as pl


@dataclass(frozen=True)
class DailyRows:
    """The daily cost rows as fetched from DuckDB, in place of a polars frame."""

    columns: tuple[str, ...]
    rows: Sequence[tuple[Any, ...]]


@dataclass
class Alert:
    """A budget breach or a cost anomaly; each gives a distinct exit code (see costlab.cli)."""

    kind: str  # "budget" | "anomaly"
    scope: str  # "total" | "workflow" | "team" | ...
    name: str | None  # workflow / team name; None for total
    period: str  # "2026-10" (budget month) or "2026-10-21" (anomaly day)
    currency: str
    amount: Decimal  # spend in the period
    threshold: Decimal  # budget limit, or the anomaly threshold
    baseline: Decimal | None  # anomaly: trailing median; budget: None
    message: str  # one clear line, printed as is


EXIT_BUDGET = 3
EXIT_ANOMALY = 4
FAIL_KINDS = ("budget", "anomaly")
DEFAULT_FAIL_ON = frozenset(FAIL_KINDS)

SCOPES = ("total", "workflow", "team")
PERIODS = ("month", "day")
COLUMNS = ("scope", "name", "day", "currency", "cost")
ANOMALY_DEFAULTS: dict[str, Any] = {
    "window": 14,
    "min_history": 7,
    "k": 5.0,
    "min_abs": Decimal("1"),
    "min_rel": 1.0,
}
FORECAST_MIN_DAYS = 3  # a month-end forecast needs this many elapsed days
MAD_SCALE = Decimal("1.4826")
_Q = Decimal("0.000000000001")  # DECIMAL(38, 12)
_WIDE = Context(prec=80)
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


@dataclass(frozen=True)
class Budget:
    """A spend limit for one scope member in one currency, per calendar month or day (UTC)."""

    scope: str  # total | workflow | team
    name: str | None  # None for total
    amount: Decimal
    currency: str = "USD"
    period: str = "month"  # month | day

    @property
    def label(self) -> str:
        return _label(self.scope, self.name)


# -- configuration ------------------------------------------------------------------------------

_BUDGET_HINT = 'use an amount like 1200, "1200 EUR", "40/day" or { amount = 40, currency = "EUR", period = "day" }'
_OPTION_HINT = "use total=5000, workflow:NAME=1200 or team:NAME=300EUR/day"
_AMOUNT = re.compile(
    r"(?P<sym>[$€£])?\s*(?P<num>\d[\d,_]*(?:\.\d+)?)\s*(?P<cur>[A-Za-z]{3})?\s*(?:/\s*(?P<per>[A-Za-z]+))?"
)


def parse_budgets(cfg: Mapping[str, Any]) -> list[Budget]:
    """Budgets from a parsed costlab.toml::

        [budgets]
        currency = "USD"      # default for the entries below
        period = "month"      # default: "month" (calendar month, UTC) or "day"
        total = 5000
        [budgets.workflow]
        "support-chat" = 1200
        "ticket-triage" = { amount = 40, period = "day" }
        [budgets.team]
        support = "2000 EUR"

    Any entry may also be a list of entries (one per currency or period).
    """
    section = cfg.get("budgets")
    if section is None:
        return []
    where = "costlab.toml [budgets]"
    if not isinstance(section, Mapping):
        raise CostlabError(f"{where}: must be a table; {_BUDGET_HINT}")
    currency = _currency(section.get("currency", "USD"), f"{where} currency")
    period = _period(section.get("period", "month"), f"{where} period")
    out: list[Budget] = []
    for key, value in section.items():
        if key in ("currency", "period"):
            continue
        if key == "total":
            out += _entries(value, "total", None, currency, period, f"{where} total")
        elif key in ("workflow", "team"):
            if not isinstance(value, Mapping):
                raise CostlabError(f"{where} {key}: must be a table of name = amount; {_BUDGET_HINT}")
            for name, entry in value.items():
                out += _entries(entry, key, str(name), currency, period, f"costlab.toml [budgets.{key}] {name!r}")
        else:
            raise CostlabError(
                f"{where}: unknown key {key!r}; expected total, currency, period, [budgets.workflow] or [budgets.team]"
            )
    _no_duplicates(out, where)
    return out


def parse_budget_option(text: str) -> Budget:
    """One ``--budget`` value: ``total=5000``, ``workflow:support-chat=1200``, ``team:ops=300EUR``,
    ``workflow:triage=40/day`` (currency defaults to USD, period to month)."""
    where = f"--budget {text!r}"
    target, sep, amount = text.rpartition("=")
    if not sep or not target.strip():
        raise CostlabError(f"{where}: expected SCOPE[:NAME]=AMOUNT; {_OPTION_HINT}")
    scope, colon, name = target.strip().partition(":")
    scope = scope.strip().lower()
    if scope not in SCOPES:
        raise CostlabError(f"{where}: unknown scope {scope!r}; {_OPTION_HINT}")
    if scope == "total":
        if colon:
            raise CostlabError(f"{where}: total takes no name; {_OPTION_HINT}")
        label: str | None = None
    else:
        label = name.strip()
        if not label:
            raise CostlabError(f"{where}: {scope} needs a name; {_OPTION_HINT}")
    value, currency, period = _amount_text(amount, where, _OPTION_HINT)
    return Budget(scope, label, value, currency or "USD", period or "month")


def merge_budgets(config: Iterable[Budget], cli: Iterable[Budget]) -> list[Budget]:
    """Config budgets with each ``--budget`` replacing the one of the same scope, name, currency
    and period (or adding to them)."""
    merged = {_key(b): b for b in config}
    for b in cli:
        merged[_key(b)] = b
    return list(merged.values())


def anomaly_settings(section: Mapping[str, Any] | None) -> dict[str, Any]:
    """Keyword arguments of `detect_anomalies` from ``[anomaly]`` (window, min_history, k,
    min_abs, min_rel); missing keys take the defaults, unknown keys are refused."""
    out = dict(ANOMALY_DEFAULTS)
    for key, value in (section or {}).items():
        out[key] = _anomaly_value(key, value, f"costlab.toml [anomaly] {key}")
    if out["min_history"] > out["window"]:
        raise CostlabError(
            f"[anomaly] min_history ({out['min_history']}) exceeds window ({out['window']}): "
            "no day could ever be judged; lower min_history or widen the window"
        )
    return out


def parse_anomaly_option(text: str) -> tuple[str, Any]:
    """One ``--anomaly KEY=VALUE`` value (same keys as ``[anomaly]``), e.g. ``k=4``."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep:
        raise CostlabError(f"--anomaly {text!r}: expected KEY=VALUE, e.g. window=28 or k=4")
    return key, _anomaly_value(key, value.strip(), f"--anomaly {key}")


def parse_fail_on(value: str | Sequence[str] | None) -> frozenset[str]:
    """``--fail-on`` / ``[alerts] fail_on``: ``budget,anomaly`` (default), ``budget``, ``anomaly``,
    ``all`` or ``none``; a comma-separated string or a list."""
    if value is None:
        return DEFAULT_FAIL_ON
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    kinds = {i.strip().lower() for i in items if i.strip()}
    if kinds == {"none"}:
        return frozenset()
    if kinds == {"all"}:
        return DEFAULT_FAIL_ON
    unknown = kinds - set(FAIL_KINDS)
    if unknown or not kinds:
        raise CostlabError(
            f"--fail-on {value!r}: unknown kind {', '.join(sorted(unknown)) or '(empty)'}; "
            "use budget, anomaly, budget,anomaly, all or none"
        )
    return frozenset(kinds)


def exit_code(alerts: Iterable[Alert], fail_on: str | Iterable[str] = DEFAULT_FAIL_ON) -> int:
    """EXIT_BUDGET when a budget was exceeded, else EXIT_ANOMALY for an anomaly, else 0; only
    kinds in ``fail_on`` count (forecasts never do). A string is read as ``--fail-on`` text
    (`parse_fail_on`), never as its characters: ``"budget"`` must not mean no kind at all."""
    wanted = parse_fail_on(fail_on) if isinstance(fail_on, str) else set(fail_on)
    kinds = {a.kind for a in alerts} & wanted
    if "budget" in kinds:
        return EXIT_BUDGET
    if "anomaly" in kinds:
        return EXIT_ANOMALY
    return 0


def history_start(since: date | datetime | None, window: int = ANOMALY_DEFAULTS["window"]) -> datetime | None:
    """Where the daily query must start so that month-to-date budgets and the anomaly window
    before ``since`` are complete: the earlier of since's month start and ``since - window``."""
    if since is None:
        return None
    d = _as_day(since)
    back = d - timedelta(days=window) if d.toordinal() > window else date.min  # --since 0001-01-01
    start = min(d.replace(day=1), back)
    return datetime(start.year, start.month, start.day, tzinfo=UTC)


# -- checks -------------------------------------------------------------------------------------


def check_budgets(
    daily: pl.DataFrame | DailyRows,
    budgets: Sequence[Budget],
    since: date | datetime | None,
    until: date | datetime | None,
    forecast_min_days: int = FORECAST_MIN_DAYS,
) -> list[Alert]:
    """Budget breaches (kind ``budget``) and month-end forecasts over budget (kind ``forecast``)
    for the months or days overlapping ``[since, until)``. Without ``until`` the period ends after
    the last day in the data; without ``since`` it starts at the first."""
    series = _series(daily)
    bounds = _bounds(series, since, until)
    if not budgets or bounds is None:
        return []
    start, end = bounds
    out: list[Alert] = []
    for b in budgets:
        costs = series.get((b.scope, b.name, b.currency), {})
        if b.period == "day":
            for d in sorted(costs):
                if start <= d < end and costs[d] > b.amount:
                    out.append(_budget_alert(b, d.isoformat(), costs[d], "on", None))
            continue
        month = start.replace(day=1)
        while month < end:
            nxt = next_month(month)
            stop = min(nxt, end)
            with localcontext(prec=80):  # exact: past the default 28 significant digits
                spend = sum((v for d, v in costs.items() if month <= d < stop), Decimal(0))
            elapsed, days = (stop - month).days, (nxt - month).days
            forecast = _q(spend / elapsed * days) if stop < nxt else None
            label = month.strftime("%Y-%m")
            if spend > b.amount:
                out.append(_budget_alert(b, label, spend, "in", forecast))
            elif forecast is not None and elapsed >= forecast_min_days and forecast > b.amount:
                out.append(_forecast_alert(b, label, spend, forecast, elapsed, days))
            month = nxt
    return out


def detect_anomalies(
    daily: pl.DataFrame | DailyRows,
    since: date | datetime | None,
    until: date | datetime | None,
    window: int = 14,
    min_history: int = 7,
    k: float = 5.0,
    min_abs: Decimal = Decimal("1"),
    min_rel: float = 1.0,
) -> list[Alert]:
    """Days in ``[since, until)`` whose cost is far above the median of the ``window`` days
    before them (rule in the module docstring); history may reach before ``since``."""
    lo = _as_day(since) if since is not None else None
    hi = _as_day(until) if until is not None else None
    k_d, rel_d, abs_d = Decimal(str(k)), Decimal(str(min_rel)), Decimal(str(min_abs))
    out: list[Alert] = []
    for (scope, name, currency), costs in _series(daily).items():
        first = min(costs)
        for day in sorted(costs):
            cost = costs[day]
            if (lo is not None and day < lo) or (hi is not None and day >= hi) or cost <= 0:
                continue
            history = [
                costs.get(day - timedelta(days=i), Decimal(0))
                for i in range(1, window + 1)
                if day - timedelta(days=i) >= first
            ]
            if len(history) < min_history:
                continue
            with localcontext() as ctx:
                ctx.prec = 60
                med = _median(history)
                if med <= 0:
                    continue
                mad = _median([abs(v - med) for v in history])
                threshold = _q(med + max(k_d * MAD_SCALE * mad, rel_d * med, abs_d))
            if cost > threshold:
                out.append(_anomaly_alert(scope, name, currency, day, cost, med, threshold, len(history)))
    out.sort(key=lambda a: (a.period, SCOPES.index(a.scope) if a.scope in SCOPES else 9, a.name or "", a.currency))
    return out


def budget_warnings(daily: pl.DataFrame | DailyRows, budgets: Sequence[Budget]) -> list[str]:
    """One line per budget that no row of ``daily`` matches (a misspelt name, or spend in
    another currency): such a budget can never fire, which should not pass silently."""
    series = _series(daily)
    out = []
    for b in budgets:
        if (b.scope, b.name, b.currency) in series:
            continue
        other = sorted({c for s, n, c in series if (s, n) == (b.scope, b.name)})
        if other:
            why = f"its spend is in {', '.join(other)}, never converted to {b.currency}"
        else:
            known = sorted({n for s, n, _ in series if s == b.scope and n is not None})
            why = "no spend in the data" + (f" (known {b.scope}s: {', '.join(known[:8])})" if known else "")
        out.append(f"budget {b.label} ({b.currency}): {why}; it cannot fire")
    return out


# -- helpers ------------------------------------------------------------------------------------


def fmt_money(amount: Decimal, currency: str) -> str:
    """``$1,312.40``, ``€40.00``, ``1,200.00 CHF``: the display rule of every table
    (`costlab.money_text`), with the currency's symbol."""
    from costlab.money_text import money_text

    text = money_text(amount)
    sym = _SYMBOLS.get(currency)
    if sym:
        return f"-{sym}{text[1:]}" if text.startswith("-") else f"{sym}{text}"
    return f"{text} {currency}"


def _label(scope: str, name: str | None) -> str:
    return scope if name is None else f"{scope} {name}"


def _key(b: Budget) -> tuple[str, str | None, str, str]:
    return (b.scope, b.name, b.currency, b.period)


def _q(d: Decimal) -> Decimal:
    """``d`` at 12 places; exact past the default 28 digits (a spend of 1e16 needs 29)."""
    return d.quantize(_Q, rounding=ROUND_HALF_UP, context=_WIDE)


def _pct(part: Decimal, whole: Decimal) -> str:
    if whole <= 0:
        return ""
    return f" ({(part / whole * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)}%)"


def _budget_alert(b: Budget, period: str, spend: Decimal, prep: str, forecast: Decimal | None) -> Alert:
    money = lambda d: fmt_money(d, b.currency)  # noqa: E731
    when = f"{prep} {period}" + (" so far" if forecast is not None else "")
    kind = "monthly" if b.period == "month" else "daily"
    msg = (
        f"BUDGET {b.label}: {money(spend)} spent {when}, over its {money(b.amount)} {kind} budget "
        f"by {money(spend - b.amount)}{_pct(spend, b.amount)}"
    )
    if forecast is not None:
        msg += f"; month-end forecast {money(forecast)}"
    return Alert("budget", b.scope, b.name, period, b.currency, spend, b.amount, None, msg)


def _forecast_alert(b: Budget, period: str, spend: Decimal, forecast: Decimal, elapsed: int, days: int) -> Alert:
    """``baseline`` carries the forecast (the Alert model has no field of its own for it)."""
    money = lambda d: fmt_money(d, b.currency)  # noqa: E731
    msg = (
        f"FORECAST {b.label}: {money(spend)} spent in {period} so far ({elapsed} of {days} days), "
        f"on track to exceed its {money(b.amount)} monthly budget: month-end forecast "
        f"{money(forecast)}{_pct(forecast, b.amount)}"
    )
    return Alert("forecast", b.scope, b.name, period, b.currency, spend, b.amount, forecast, msg)


def _anomaly_alert(
    scope: str, name: str | None, currency: str, day: date, cost: Decimal, med: Decimal, threshold: Decimal, n: int
) -> Alert:
    ratio = (cost / med).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    msg = (
        f"ANOMALY {_label(scope, name)} on {day.isoformat()}: {fmt_money(cost, currency)}, "
        f"{ratio}x its {n}-day median of {fmt_money(med, currency)}"
    )
    return Alert("anomaly", scope, name, day.isoformat(), currency, cost, threshold, _q(med), msg)


def _median(values: Sequence[Decimal]) -> Decimal:
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2




def _as_day(v: date | datetime) -> date:
    if isinstance(v, datetime):
        return (v.astimezone(UTC) if v.tzinfo else v).date()
    return v


def _bounds(
    series: Mapping[Any, Mapping[date, Decimal]], since: date | datetime | None, until: date | datetime | None
) -> tuple[date, date] | None:
    days = [d for costs in series.values() for d in costs]
    if not days and (since is None or until is None):
        return None
    start = _as_day(since) if since is not None else min(days)
    end = _as_day(until) if until is not None else max(days) + timedelta(days=1)
    return (start, end) if start < end else None


def _series(daily: pl.DataFrame | DailyRows) -> dict[tuple[str, str | None, str], dict[date, Decimal]]:
    """``{(scope, name, currency): {day: cost}}``, summing duplicate keys; NULL cost is unknown
    money and skipped, never counted as 0."""
    columns = list(daily.columns)
    missing = [c for c in COLUMNS if c not in columns]
    if missing:
        raise CostlabError(
            f"daily cost frame: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}"
        )
    if isinstance(daily, DailyRows):
        at = [columns.index(c) for c in COLUMNS]
        rows: Iterable[Sequence[Any]] = ([r[i] for i in at] for r in daily.rows)
    else:
        rows = daily.select(COLUMNS).iter_rows()
    out: dict[tuple[str, str | None, str], dict[date, Decimal]] = {}
    for scope, name, day, currency, cost in rows:
        if cost is None or day is None or currency is None:
            continue
        value = cost if isinstance(cost, Decimal) else Decimal(str(cost))
        costs = out.setdefault((str(scope), None if name is None else str(name), str(currency)), {})
        d = _as_day(day)
        with localcontext(prec=80):  # exact: past the default 28 significant digits
            costs[d] = costs.get(d, Decimal(0)) + value
    return out


def _entries(
    value: Any, scope: str, name: str | None, currency: str, period: str, where: str
) -> list[Budget]:
    if isinstance(value, list):
        return [b for v in value for b in _entries(v, scope, name, currency, period, where)]
    if isinstance(value, Mapping):
        unknown = set(value) - {"amount", "currency", "period"}
        if unknown or "amount" not in value:
            bad = f"unknown key {sorted(unknown)[0]!r}" if unknown else "no amount"
            raise CostlabError(f"{where}: {bad}; {_BUDGET_HINT}")
        amount, cur, per = _amount_value(value["amount"], where)
        cur = _currency(value["currency"], f"{where} currency") if "currency" in value else cur
        per = _period(value["period"], f"{where} period") if "period" in value else per
    else:
        amount, cur, per = _amount_value(value, where)
    return [Budget(scope, name, amount, cur or currency, per or period)]


def _amount_value(value: Any, where: str) -> tuple[Decimal, str | None, str | None]:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise CostlabError(f"{where}: cannot read {value!r} as a budget; {_BUDGET_HINT}")
    if isinstance(value, str):
        return _amount_text(value, where, _BUDGET_HINT)
    amount = Decimal(str(value))
    if not amount.is_finite() or amount < 0:
        raise CostlabError(f"{where}: budget {value!r} must be a number >= 0; {_BUDGET_HINT}")
    return amount, None, None


def _amount_text(text: str, where: str, hint: str) -> tuple[Decimal, str | None, str | None]:
    m = _AMOUNT.fullmatch(text.strip())
    if not m:
        raise CostlabError(f"{where}: cannot read {text.strip()!r} as a budget amount; {hint}")
    try:
        amount = Decimal(m["num"].replace(",", "").replace("_", ""))
    except InvalidOperation:
        raise CostlabError(f"{where}: cannot read {m['num']!r} as a number; {hint}") from None
    cur = m["cur"].upper() if m["cur"] else None
    if m["sym"]:
        sym_cur = {v: k for k, v in _SYMBOLS.items()}[m["sym"]]
        if cur and cur != sym_cur:
            raise CostlabError(f"{where}: {m['sym']} and {cur} disagree; {hint}")
        cur = sym_cur
    per = _period(m["per"].lower(), where) if m["per"] else None
    return amount, cur, per


def _currency(value: Any, where: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{3}", value.strip()):
        raise CostlabError(f"{where}: {value!r} is not a currency code; use a 3-letter code like USD or EUR")
    return value.strip().upper()


def _period(value: Any, where: str) -> str:
    if value not in PERIODS:
        raise CostlabError(f"{where}: unknown budget period {value!r}; use month or day")
    return str(value)


def _no_duplicates(budgets: Sequence[Budget], where: str) -> None:
    seen: set[tuple[str, str | None, str, str]] = set()
    for b in budgets:
        if _key(b) in seen:
            raise CostlabError(
                f"{where}: two {b.period} {b.currency} budgets for {b.label}; keep one per currency and period"
            )
        seen.add(_key(b))


def _anomaly_value(key: str, value: Any, where: str) -> Any:
    if key not in ANOMALY_DEFAULTS:
        raise CostlabError(f"{where}: unknown anomaly option; use one of {', '.join(ANOMALY_DEFAULTS)}")
    try:
        if isinstance(value, bool):
            raise ValueError
        if key in ("window", "min_history"):
            n = int(value)
            if n < 1 or (isinstance(value, float) and value != n):
                raise ValueError
            return n
        if key == "min_abs":
            d = Decimal(str(value))
            if not d.is_finite() or d < 0:
                raise ValueError
            return d
        f = float(value)
        if not f >= 0 or f == float("inf"):
            raise ValueError
        return f
    except (ValueError, TypeError, InvalidOperation):
        kind = "a whole number of days >= 1" if key in ("window", "min_history") else "a number >= 0"
        raise CostlabError(f"{where}: {value!r} is not {kind}") from None
