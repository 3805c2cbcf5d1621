"""Money conservation and idempotence as properties over generated FOCUS billing files.

Each example writes FOCUS CSV files (random amounts with up to 12 decimals, negative credits, USD
and EUR, several days and accounts; duplicate lines allowed) and ingests them through the real
pipeline. Expected totals are exact Decimal sums of what was written, following the documented
row-key semantics (README "The lake"; costlab/ingest/focus.py "Row key"):

- the key is the identifying dimensions, never the amount; two equal lines in one file are both
  real (kept apart by an occurrence number);
- a later file with the same key (and occurrence) replaces the earlier row, whatever the file is
  called: a renamed copy of a file therefore changes nothing;
- re-ingesting an unchanged file (or forcing it) changes nothing;
- amounts past the plausible limit per line (``max_money_per_line``, 1e15) are quarantined, the
  rest are kept, and the report's totals over them are exact (sums past 28 digits included).
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal, localcontext
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costlab.ingest.run import ingest
from costlab.pricing import PriceBook
from costlab.report.build import build_report
from costlab.workspace import Workspace

HEADER = [
    "BillingAccountId", "SubAccountId", "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory",
    "ChargeDescription", "BillingCurrency", "BilledCost", "EffectiveCost", "ServiceName",
    "ProviderName",
]
CATEGORIES = ("Usage", "Purchase", "Credit", "Adjustment", "Tax")
PROPS = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# 12 decimals exactly representable in DECIMAL(38,12); +-10^9 keeps sums of 60 lines far from
# the 26 integer digits the column holds
amounts = st.integers(-(10**21), 10**21).map(lambda n: Decimal(n).scaleb(-12))
small = st.integers(-(10**6), 10**6).map(lambda n: Decimal(n).scaleb(-12))  # sub-cent credits
# around the 1e15 money limit, either side, with all 12 decimals (sums of a few pass 28 digits)
LIMIT = Decimal(10) ** 15
edge = st.integers(10**27 - 10**3, 10**27 + 10**3).map(lambda n: Decimal(n).scaleb(-12))


@st.composite
def lines(draw: st.DrawFn, sub: str | None = None) -> dict[str, Any]:
    billed = draw(st.one_of(amounts, small, st.just(Decimal(0))))
    category = draw(st.sampled_from(CATEGORIES))
    if category == "Credit":
        billed = -abs(billed)
    day = draw(st.integers(1, 5))
    return {
        "BillingAccountId": f"acct-{draw(st.integers(1, 2))}",
        "SubAccountId": sub or f"proj-{draw(st.integers(1, 3))}",
        "ChargePeriodStart": f"2025-03-{day:02d}T00:00:00Z",
        "ChargePeriodEnd": f"2025-03-{day + 1:02d}T00:00:00Z",
        "ChargeCategory": category,
        "ChargeDescription": draw(st.sampled_from(["gpt-4o input tokens", "gpt-4o output tokens", "storage", "support"])),
        "BillingCurrency": draw(st.sampled_from(["USD", "EUR"])),
        "BilledCost": billed,
        "EffectiveCost": draw(st.one_of(st.just(billed), amounts)),
        "ServiceName": "Example Model API",
        "ProviderName": "Example AI",
    }


def key(line: dict[str, Any]) -> tuple[str, ...]:
    """The identifying dimensions this generator varies (everything but the money)."""
    return tuple(str(line[c]) for c in HEADER if c not in ("BilledCost", "EffectiveCost"))


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, HEADER)
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:f}" if isinstance(v, Decimal) else v) for k, v in r.items()})
    return path


def expected(files: list[list[dict[str, Any]]]) -> dict[str, tuple[Decimal, Decimal, int]]:
    """Per currency (billed, effective, lines) after ingesting ``files`` in order: rows keyed by
    (key, occurrence within its file); a later file's row replaces the earlier one."""
    live: dict[tuple[Any, ...], dict[str, Any]] = {}
    for rows in files:
        seen: dict[tuple[str, ...], int] = defaultdict(int)
        for r in rows:
            k = key(r)
            live[(k, seen[k])] = r
            seen[k] += 1
    out: dict[str, tuple[Decimal, Decimal, int]] = {}
    for r in live.values():
        b, e, n = out.get(r["BillingCurrency"], (Decimal(0), Decimal(0), 0))
        out[r["BillingCurrency"]] = (b + r["BilledCost"], e + r["EffectiveCost"], n + 1)
    return out


class _FastBook:
    """The PriceBook with its prices table built once (the views need it for every connect)."""

    def __init__(self) -> None:
        self._book = PriceBook.load()
        self._prices = self._book.prices_table()

    def prices_table(self) -> Any:
        return self._prices

    def __getattr__(self, name: str) -> Any:
        return getattr(self._book, name)


@cache
def _book() -> Any:
    return _FastBook()


def totals(lake: Path) -> dict[str, tuple[Decimal, Decimal, int]]:
    with Workspace(lake).connect(prices=_book()) as con:
        rows = con.execute(
            "SELECT billing_currency, sum(billed_cost), sum(effective_cost), count(*) "
            "FROM charges GROUP BY 1"
        ).fetchall()
    return {c: (b, e, n) for c, b, e, n in rows}


@contextmanager
def workdir() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="costlab-props-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _ok(result: Any) -> None:
    assert not result.failed and result.rows_quarantined == 0, (result.failed, result.rows_quarantined)


@PROPS
@given(st.lists(lines(), min_size=1, max_size=60))
def test_money_is_conserved_per_currency(rows: list[dict[str, Any]]) -> None:
    with workdir() as root:
        _ok(ingest([write(root / "bill.csv", rows)], lake=root / "lake", source="focus"))
        got = totals(root / "lake")
    # the exact Decimal sums of the written file, one per currency, every line kept
    want = {
        cur: (
            sum((r["BilledCost"] for r in rows if r["BillingCurrency"] == cur), Decimal(0)),
            sum((r["EffectiveCost"] for r in rows if r["BillingCurrency"] == cur), Decimal(0)),
            sum(1 for r in rows if r["BillingCurrency"] == cur),
        )
        for cur in {r["BillingCurrency"] for r in rows}
    }
    assert got == want == expected([rows])


@PROPS
@given(st.lists(lines(), min_size=1, max_size=40))
def test_reingesting_changes_nothing(rows: list[dict[str, Any]]) -> None:
    with workdir() as root:
        path = write(root / "exports" / "bill.csv", rows)
        lake = root / "lake"
        _ok(ingest([path], lake=lake))
        first = totals(lake)
        again = ingest([path], lake=lake)  # unchanged: skipped
        assert [f.status for f in again.files] == ["skipped"] and again.rows_written == 0
        forced = ingest([path], lake=lake, force=True)  # re-read: replaces itself
        _ok(forced)
        assert forced.rows_replaced == len(rows)
        assert totals(lake) == first
        # a renamed copy holds the same keys: by the documented row-key rule it replaces, it
        # does not double count
        copy = root / "elsewhere" / "bill-copy.csv"
        copy.parent.mkdir()
        shutil.copy(path, copy)
        renamed = ingest([copy], lake=lake)
        _ok(renamed)
        assert renamed.rows_replaced == len(rows)
        assert totals(lake) == first == expected([rows])


@PROPS
@given(st.lists(st.lists(lines(), min_size=1, max_size=15), min_size=2, max_size=4), st.randoms())
def test_file_order_does_not_matter_for_disjoint_files(files: list[list[dict[str, Any]]], rnd: Any) -> None:
    # files from different sub-accounts share no key, so any order gives the same totals
    files = [[{**r, "SubAccountId": f"file-{i}"} for r in rows] for i, rows in enumerate(files)]
    want = expected(files)
    order = list(range(len(files)))
    rnd.shuffle(order)
    with workdir() as root:
        paths = [write(root / "in" / f"part{i}.csv", rows) for i, rows in enumerate(files)]
        for i in order:  # one run per file, shuffled
            _ok(ingest([paths[i]], lake=root / "one-by-one"))
        _ok(ingest(paths, lake=root / "all-at-once"))
        assert totals(root / "one-by-one") == totals(root / "all-at-once") == want


@PROPS
@given(st.lists(lines(), min_size=1, max_size=20), st.lists(lines(), min_size=1, max_size=20))
def test_a_later_export_replaces_what_it_restates(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> None:
    # b restates some of a's lines with new amounts: shift b onto a's keys where they overlap
    b = [{**r, **{c: a[i % len(a)][c] for c in HEADER if c not in ("BilledCost", "EffectiveCost")}}
         if i % 2 == 0 else r for i, r in enumerate(b)]  # fmt: skip
    for first, second in ((a, b), (b, a)):
        with workdir() as root:
            p1, p2 = write(root / "in" / "first.csv", first), write(root / "in" / "second.csv", second)
            _ok(ingest([p1], lake=root / "lake"))
            _ok(ingest([p2], lake=root / "lake"))
            assert totals(root / "lake") == expected([first, second])


@st.composite
def edge_lines(draw: st.DrawFn) -> dict[str, Any]:
    line = draw(lines())
    billed = draw(st.one_of(edge, edge.map(lambda d: -d), amounts))
    line["BilledCost"] = -abs(billed) if line["ChargeCategory"] == "Credit" else billed
    line["EffectiveCost"] = draw(st.one_of(st.just(line["BilledCost"]), edge, amounts))
    return line


@PROPS
@given(st.lists(edge_lines(), min_size=1, max_size=30))
def test_money_near_the_limit_is_exact_or_quarantined(rows: list[dict[str, Any]]) -> None:
    kept = [r for r in rows if abs(r["BilledCost"]) <= LIMIT and abs(r["EffectiveCost"]) <= LIMIT]
    with workdir() as root:
        res = ingest([write(root / "bill.csv", rows)], lake=root / "lake", source="focus")
        assert not res.failed and res.rows_quarantined == len(rows) - len(kept)
        got = totals(root / "lake")
        report = build_report(root / "lake", since="2025-03-01", until="2025-04-01", findings=False)
    with localcontext(prec=80):  # the exact sums: past Python's default 28 digits
        want = expected([kept])
    assert got == want
    # the report's headline: billed per currency, summed exactly in Python from its sections
    assert {h.currency: h.billed for h in report.headline} == {c: b for c, (b, _, _) in want.items()}


def test_expected_model_by_hand() -> None:
    """The model the properties use, on numbers worked by hand."""
    base = {"BillingAccountId": "a", "SubAccountId": "s", "ChargePeriodStart": "d", "ChargePeriodEnd": "e",
            "ChargeCategory": "Usage", "ChargeDescription": "x", "BillingCurrency": "USD",
            "ServiceName": "S", "ProviderName": "P"}  # fmt: skip
    one = [{**base, "BilledCost": Decimal("1.5"), "EffectiveCost": Decimal("1.5")},
           {**base, "BilledCost": Decimal("2"), "EffectiveCost": Decimal("2")},
           {**base, "ChargeCategory": "Credit", "BilledCost": Decimal("-0.000000000001"),
            "EffectiveCost": Decimal("-0.000000000001")}]  # fmt: skip
    two = [{**base, "BilledCost": Decimal("10"), "EffectiveCost": Decimal("9")}]
    # one alone: 1.5 + 2 - 0.000000000001 = 3.499999999999 over 3 lines
    assert expected([one]) == {"USD": (Decimal("3.499999999999"), Decimal("3.499999999999"), 3)}
    # two restates the first occurrence of the key: 10 + 2 - 0.000000000001 = 11.999999999999
    assert expected([one, two]) == {"USD": (Decimal("11.999999999999"), Decimal("10.999999999999"), 3)}


# -- hostile text in every string field prints as text ---------------------------------------
PIECES = [
    "[/x]", "[link=http://evil.example]x[/link]", "[bold red]", ":x:", ":warning:", "\x1b[31m", "\x1b]8;;http://e\x07",
    "\u202e", "\u2066", "\x07", "\x00", "\x7f", "\x9b", "|", "<script>", "\r", "\t", "\n", "a", "é", "💥", "=cmd",
]  # fmt: skip
hostile = st.lists(st.sampled_from(PIECES), min_size=1, max_size=6).map("".join)
RAW_CONTROL = ("\x1b", "\u202e", "\u2066", "\x07", "\x9b", "\x00")
#: the LiteLLM fields that are free text (ids, names, tags); numbers and times stay real
LITELLM_TEXT = ("request_id", "call_type", "model_group", "user", "team_id", "session_id", "status")


@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(text=hostile)
def test_hostile_text_prints_as_text(text: str) -> None:
    """Markup, emoji codes, ESC/OSC sequences, bidi overrides and other control characters in
    every text field of a trace and a bill (and in a quarantined line) never crash a command and
    never reach the terminal raw: every listing, the quarantine and the terminal and Markdown
    reports print them as text."""
    import json

    from typer.testing import CliRunner

    from costlab.cli import app

    fixtures = Path(__file__).resolve().parent / "fixtures"
    record = json.loads((fixtures / "litellm" / "spend_logs.jsonl").read_text().splitlines()[0])
    for key in LITELLM_TEXT:
        record[key] = f"{text}{record[key]}"
    record["metadata"]["spend_logs_metadata"]["Workflow"] = text
    record["request_tags"] = [text]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "spend.jsonl").write_text(json.dumps(record) + "\n")
        with open(root / "bill.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["toy_id", "cost", "day", "user"])
            w.writerow([text + "1", "1.25", "2025-06-04", text])
            w.writerow([text + "2", text, "2025-06-04", text])  # quarantined: not a number
        lake = str(root / "lake")
        runner = CliRunner()
        r = runner.invoke(app, ["ingest", str(root / "spend.jsonl"), str(root / "bill.csv"), "--lake", lake])
        assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
        assert r.exit_code == 0, r.stderr
        for args in (
            ["sql", "select * from spans"],
            ["sql", "select * from charges"],
            ["quarantine"],
            ["runs"],
            ["report", "--no-findings", "--no-fail"],
            ["report", "--no-findings", "--no-fail", "-f", "markdown"],
        ):
            r = runner.invoke(app, [*args, "--lake", lake])
            assert r.exception is None or isinstance(r.exception, SystemExit), (args, r.exception)
            assert r.exit_code == 0, (args, r.stderr)
            for raw in RAW_CONTROL:
                assert raw not in r.stdout and raw not in r.stderr, (args, raw)
        listing = runner.invoke(app, ["sql", "select principal from charges", "--lake", lake]).stdout
        if "[/x]" in text:  # markup is shown, not interpreted (and never a MarkupError)
            assert "[/x]" in listing
