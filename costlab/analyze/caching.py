"""The caching analyzer: how much input could be provider-cache reads, and what stops it.

Method (docs/analyzers.md, Caching): replay the log's prefix-block hash chains through each
provider's effective-dated rules (`costlab.analyze.rules`) with `costlab.analyze.replay`, in three
scenarios per call:

* **pessimistic**: shortest TTL, first-write visibility lag, OpenAI per-prefix overflow, a write
  at the end of every prompt (naive), no hits at all for best-effort caches (Gemini implicit);
* **typical** and **long**: the usual in-memory TTL and the longest TTL on offer (Anthropic 1 h,
  OpenAI 24 h extended retention), oracle writes (only blocks that are read again). A step's
  optimistic figure is the better of the two, which is also the recommended TTL.

Savings are (actual input cost - simulated input cost incl. write premiums), so a step already
cached well shows little left; the actual cost uses the logged cache reads and writes. Money is
token-units x the call's own effective-dated uncached price, in Decimal, scaled to 30 days over
the observed span (at least one day: a one-hour sample is not multiplied by 720).

Actual vs achievable: a call's logged cache reads are known when it carries them or when other
calls of the same provider and source format do (OTel exporters omit a zero attribute, so NULL
there means 0); only when nobody reports them is a step "actual cache reads not logged".

Block 0 differs (a timestamp first): chained hashes then differ at every later block too, so from
hashes alone only "block 0 never repeats" is visible. With kept text the changing text and the
stable text after it are shown and the fix is replayed (validated); without, the stable remainder
is estimated from the first message's size (``message_tokens``: the same size on every call means
a template) or, lacking that, bounded by all input after block 0 (potential savings only).

Scale: the calls come from the analyzers' shared materialized table (`costlab.workspace.Workspace.analysis_connection`), the prefix
blocks are replayed as numpy arrays (`costlab.analyze.replay`), and where a step's calls diverge is
measured on at most 2,000 calls per step.

Calls without hashes cannot be replayed; when they report cache reads (Claude Code), a
session-history estimate (each call could read the previous call's prompt of the same session and
model within the TTL) says whether anything is left. Exact prompt repeats (same ``prompt_hash``
within 24 h) are response-cache savings; near-duplicate texts (SimHash) are candidates only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from costlab.analyze import memory
from costlab.analyze.base import AnalyzerResult, Finding, Savings, analyzer, money
from costlab.analyze.response_cache import near_dup_findings, repeat_findings
from costlab.analyze.rules import Rule, load_rules, lookup
from costlab.money_text import money_text

if TYPE_CHECKING:
    import polars as pl

    from costlab.analyze.replay import Prepared
    from costlab.lake import Lake

NAME = "caching"
WELL_CACHED = 0.9  # actual / achievable cached tokens at or above this: "little left"
MIN_DAYS = 1.0
MONTH_DAYS = 30
ZERO = Decimal(0)


@dataclass
class Context:
    since: datetime | None
    until: datetime | None
    factor: Decimal  # 30 days / observed days
    days: float
    rules: tuple[Rule, ...]
    cfg: dict[str, Any]


def load_calls(con: Any, since: datetime | None, until: datetime | None) -> pl.DataFrame:
    """The analyzer's input (queries/analyze/caching_calls.sql on the shared analyzer connection)
    numbered in time order (idx; ties by workflow, step and a hash of row_key, so reruns agree),
    with t (s) and null-safe token columns."""
    import polars as pl

    from costlab.sql import load_sql

    df = con.sql(load_sql("analyze/caching_calls"), params={"since": since, "until": until}).pl()
    df = df.with_columns(  # in replay order already (the query sorts)
        wf=pl.col("workflow").fill_null("(none)"), st=pl.col("step").fill_null("(none)")
    )
    return df.with_row_index("idx").with_columns(
        pl.col("idx").cast(pl.Int64),
        t=pl.col("start_time").dt.epoch("us").cast(pl.Float64) / 1e6,
        I=pl.col("input_tokens").cast(pl.Int64),
        R=pl.col("cache_read_tokens").fill_null(0).cast(pl.Int64),
        W=pl.col("cache_write_tokens").fill_null(0).cast(pl.Int64),
        W1h=pl.col("cache_write_1h_tokens").fill_null(0).cast(pl.Int64),
        B=pl.col("prefix_block_tokens").fill_null(0).cast(pl.Int64),
    )


def load_blocks(con: Any, df: pl.DataFrame, since: datetime | None, until: datetime | None
                ) -> pl.DataFrame:  # fmt: skip
    """(idx, pos, key) per prefix block of the loaded calls (queries/analyze/caching_hashes.sql):
    key is the block's chained hash within the call's cache scope, as UInt64; rows in (idx, pos)
    order. Calls are matched by rid (a gather, not a join)."""
    import numpy as np
    import polars as pl

    from costlab.sql import load_sql

    # most logs carry no prefix hashes: then skip numbering every call for a join that finds none
    # (9 s at 10M calls)
    any_hashes = con.execute(
        "SELECT EXISTS (SELECT 1 FROM analyze_spans WHERE array_length(prefix_hashes) > 0)"
    ).fetchall()[0][0]
    if any_hashes:
        lists = con.sql(load_sql("analyze/caching_hashes"), params={"since": since, "until": until}).pl()
    else:
        lists = pl.DataFrame(schema={"rid": pl.Int64, "key": pl.List(pl.UInt64)})
    rid = df["rid"].to_numpy()
    to_idx = np.full(int(rid.max()) + 1 if len(rid) else 0, -1, dtype=np.int64)
    to_idx[rid] = df["idx"].to_numpy()
    lists = lists.with_columns(idx=pl.Series(to_idx[lists["rid"].to_numpy()])).sort("idx")
    return (
        lists.select("idx", "key", pos=pl.int_ranges(0, pl.col("key").list.len(), dtype=pl.Int32))
        .explode("key", "pos")
        .with_columns(pl.col("key").cast(pl.UInt64))
    )


def attach_rules(df: pl.DataFrame, rules: tuple[Rule, ...], cfg: dict[str, Any]) -> pl.DataFrame:
    """Per call: its rule (by provider, model and day) and the multipliers the replay uses.

    Multipliers come from the call's price cell when it has its own cache prices, else from the
    rule (e.g. OpenAI writes are priced as input; a price table without cache prices says nothing).
    """
    import polars as pl

    prov = pl.col("provider").fill_null(cfg.get("assume_provider") or "")
    mod = pl.col("model").fill_null(cfg.get("assume_model") or "")
    keys = df.select(
        _p=prov, _m=mod, _d=pl.col("start_time").dt.date()
    ).unique()
    found: dict[str, Rule] = {}
    rows = []
    for p, m, d in keys.iter_rows():
        at = datetime.combine(d, datetime.min.time()).replace(tzinfo=_utc()) if d else None
        r = lookup(p, m, at, rules)
        found[r.key] = r
        rows.append((p, m, d, r.key))
    rk = pl.DataFrame(rows, schema=["_p", "_m", "_d", "rule"], orient="row").with_columns(
        pl.col("_d").cast(pl.Date)
    )
    table = pl.DataFrame(
        [
            {
                "rule": r.key,
                "min_tok": r.min_tokens,
                "gran": r.granularity,
                "rho_rule": r.read_mult,
                "ws_rule": r.write_mult_short,
                "wl_rule": r.write_mult_long,
                "ttl_pess": r.ttl_short if r.guaranteed else -1.0,
                "ttl_typ": r.ttl_typical,
                "ttl_long": r.ttl_long if r.ttl_long > 0 else r.ttl_typical,
                "lag": r.visibility_lag,
                "rpm": r.overflow_rpm,
                "writes_priced": r.writes_priced,
            }
            for r in found.values()
        ]
    )
    # joined on the three key columns alone, back in row order, then attached: joining `df`
    # itself copied every column of it twice (5 GB at 10M calls)
    per_row = (
        df.select(_p=prov, _m=mod, _d=pl.col("start_time").dt.date()).with_row_index("_row")
        .join(rk, on=["_p", "_m", "_d"], how="left").join(table, on="rule", how="left")
        .sort("_row").drop("_row", "_p", "_m", "_d")
    )  # fmt: skip
    df = df.with_columns(per_row.get_columns())
    unc = pl.col("p_uncached").cast(pl.Float64)
    ratio = lambda c: pl.col(c).cast(pl.Float64) / unc  # noqa: E731
    priced = unc.is_not_null() & (unc > 0)
    return df.with_columns(
        rho=pl.when(priced & (ratio("p_cache_read") < 1)).then(ratio("p_cache_read"))
        .otherwise(pl.col("rho_rule")),
        w_short=pl.when(priced & (ratio("p_cache_write_5m") > 1)).then(ratio("p_cache_write_5m"))
        .otherwise(pl.col("ws_rule")),
        w_long=pl.when(priced & (ratio("p_cache_write_1h") > 1) & (pl.col("wl_rule") > 1))
        .then(ratio("p_cache_write_1h")).otherwise(pl.col("wl_rule")),
    )  # fmt: skip


def _utc() -> Any:
    from datetime import UTC

    return UTC


def prepare(df: pl.DataFrame, blocks: pl.DataFrame) -> Prepared:
    """Replay inputs from the loaded calls and their blocks (`costlab.analyze.replay.prepare`)."""
    import polars as pl

    from costlab.analyze import replay

    df_ids = df.with_columns(
        scope_id=pl.col("scope_key").rank("dense").cast(pl.Int64),
        step_id=pl.struct("wf", "st").rank("dense").cast(pl.Int64),
    )
    calls = df_ids.select(
        "idx", "t", "scope_id", "step_id", "I", "B", "min_tok", "gran", "rho", "w_short",
        "w_long", "ttl_pess", "ttl_typ", "ttl_long", "lag", "rpm",
    )  # fmt: skip
    return replay.prepare(calls, blocks)


SCENARIOS = (
    ("pess", "ttl_pess", "w_short", "lag", True, "naive"),
    ("typ", "ttl_typ", "w_short", None, False, "oracle"),
    ("long", "ttl_long", "w_long", None, False, "oracle"),
)


def simulate(df: pl.DataFrame, p: Prepared) -> pl.DataFrame:
    """Per call: actual and simulated units for each scenario, shareable tokens, miss reasons."""
    import polars as pl

    from costlab.analyze import replay

    # every frame here is in idx order (rows 0..n-1), so columns are attached, never joined
    out = df.with_columns(
        replay.shareable(p)["shareable"],
        p.calls["nb"], p.calls["scope_id"], p.calls["step_id"],
    )  # fmt: skip
    actual = (
        pl.col("I") - pl.col("R") - pl.col("W")
        + pl.col("R") * pl.col("rho")
        + (pl.col("W") - pl.col("W1h")) * pl.col("w_short")
        + pl.col("W1h") * pl.col("w_long")
    )  # fmt: skip
    out = out.with_columns(units_actual=actual)
    for name, ttl, w, lag, overflow, policy in SCENARIOS:
        r = replay.run(p, replay.Scenario(name, ttl, w, lag, overflow, policy))
        out = out.with_columns(
            r["cached"].alias(f"cached_{name}"),
            r["units"].alias(f"units_{name}"),
            r["reason"].alias(f"reason_{name}"),
        )
    # calls without hashes cannot be replayed: their simulated cost is their actual cost
    has = pl.col("nb") > 0
    return out.with_columns(
        *[
            pl.when(has).then(pl.col(f"units_{n}")).otherwise(pl.col("units_actual"))
            .alias(f"units_{n}")
            for n, *_ in SCENARIOS
        ],
        *[
            pl.when(has).then(pl.col(f"cached_{n}")).otherwise(pl.col("R")).alias(f"cached_{n}")
            for n, *_ in SCENARIOS
        ],
    )  # fmt: skip


DIVERGENCE_BLOCKS = 256  # look for the divergence in the first 256 blocks (32k tokens at 128)


DIVERGENCE_SAMPLE = 2000  # calls per step the divergence is measured on (every k-th in time)


def divergence(p: Prepared) -> dict[int, tuple[int, int, int]]:
    """step_id -> (first block index where the step's calls stop sharing one hash, calls with
    hashes, distinct hashes at that block). A block "is shared" when its most common hash covers at
    least half the step's calls that reach that block (and at least two calls do).

    Measured on at most `DIVERGENCE_SAMPLE` calls per step (every k-th call in time order), over
    the first `DIVERGENCE_BLOCKS` blocks: it describes where a template stops, and grouping every
    block of a 1M-call log by hash cost ~6 s and 1 GiB for the same answer. Counts are of the
    sampled calls.
    """
    import numpy as np
    import polars as pl

    c = p.calls.select("idx", "step_id", "nb").filter(pl.col("nb") > 0)
    c = c.with_columns(
        r=pl.int_range(pl.len()).over("step_id"), every=(pl.len() / DIVERGENCE_SAMPLE).ceil()
        .over("step_id").cast(pl.Int64),
    ).filter(pl.col("r") % pl.col("every") == 0)  # fmt: skip
    keep = np.zeros(p.n, dtype=bool)
    keep[c["idx"].to_numpy()] = True
    step = np.zeros(p.n, dtype=np.int32)
    step[c["idx"].to_numpy()] = c["step_id"].to_numpy()
    at = p.blocks["idx"]
    rows = np.flatnonzero(keep[at] & (p.blocks["pos"] < DIVERGENCE_BLOCKS))
    b = pl.DataFrame(
        {"step_id": step[at[rows]], "pos": p.blocks["pos"][rows], "key": p.blocks["key"][rows]}
    )
    counts = b.group_by("step_id", "pos", "key").agg(n=pl.len())
    del b
    per = counts.group_by("step_id", "pos").agg(
        top=pl.col("n").max(), total=pl.col("n").sum(), distinct=pl.len()
    )
    per = per.filter(pl.col("total") >= 2)
    broken = (
        per.filter(pl.col("top") * 2 < pl.col("total"))
        .sort("pos")
        .group_by("step_id")
        .agg(pl.col("pos").first(), pl.col("distinct").first(), pl.col("total").first())
    )
    reach = per.group_by("step_id").agg(maxpos=pl.col("pos").max() + 1, calls=pl.col("total").max())
    out: dict[int, tuple[int, int, int]] = {}
    for sid, maxpos, calls in reach.iter_rows():
        out[sid] = (maxpos, calls, 1)
    for sid, pos, distinct, total in broken.iter_rows():
        out[sid] = (pos, total, distinct)
    return out


# -- per-step aggregation ----------------------------------------------------------------------


def _dec(x: float | int | None) -> Decimal:
    return Decimal(str(round(float(x or 0), 6)))


def _money_by_step(sim: pl.DataFrame, cols: list[str]) -> dict[tuple[str, str], dict[str, Decimal]]:
    """(workflow, step) -> {col: units x uncached price} over USD-priced calls, in Decimal."""
    import polars as pl

    # lazy: only the columns summed are filtered (an eager filter copies every column of `sim`)
    agg = (
        sim.lazy().filter((pl.col("price_currency") == "USD") & pl.col("p_uncached").is_not_null())
        .group_by("wf", "st", "p_uncached").agg([pl.col(c).sum() for c in cols]).collect()
    )  # fmt: skip
    out: dict[tuple[str, str], dict[str, Decimal]] = {}
    for row in agg.iter_rows(named=True):
        d = out.setdefault((row["wf"], row["st"]), {c: ZERO for c in cols})
        price = Decimal(row["p_uncached"])
        for c in cols:
            d[c] += _dec(row[c]) * price
    return out


def _steps(sim: pl.DataFrame) -> list[dict[str, Any]]:
    import polars as pl

    gaps = sim.lazy().with_columns(  # sim is in idx (time) order
        gap=(pl.col("t") - pl.col("t").shift(1)).over("scope_id", "step_id")
    )
    usd = pl.col("cost_currency") == "USD"
    agg = gaps.group_by("wf", "st", "step_id").agg(
        calls=pl.len(),
        calls_hashed=(pl.col("nb") > 0).sum(),
        cache_reported=pl.col("cache_reported").all(),
        I=pl.col("I").sum(),
        I_hashed=pl.col("I").filter(pl.col("nb") > 0).sum(),
        R=pl.col("R").sum(),
        shareable=pl.col("shareable").sum(),
        cached_pess=pl.col("cached_pess").sum(),
        cached_typ=pl.col("cached_typ").sum(),
        cached_long=pl.col("cached_long").sum(),
        units_actual=pl.col("units_actual").sum(),
        units_pess=pl.col("units_pess").sum(),
        units_typ=pl.col("units_typ").sum(),
        units_long=pl.col("units_long").sum(),
        cost=pl.col("cost").filter(usd).sum(),
        unpriced=(pl.col("p_uncached").is_null() | ~usd.fill_null(False)).sum(),
        B=pl.col("B").max(),
        min_tok=pl.col("min_tok").min(),
        ttl_typ=pl.col("ttl_typ").first(),
        ttl_long=pl.col("ttl_long").first(),
        writes_priced=pl.col("writes_priced").any(),
        rules=pl.col("rule").unique().sort(),
        gap_p50=pl.col("gap").median(),
        gap_p90=pl.col("gap").quantile(0.9),
        reasons=pl.col("reason_pess").filter(pl.col("nb") > 0).value_counts(),
        reasons_typ=pl.col("reason_typ").filter(pl.col("nb") > 0).value_counts(),
        provider=pl.col("provider").first(),
    ).collect()
    out = []
    for row in agg.sort("wf", "st").iter_rows(named=True):
        for k in ("reasons", "reasons_typ"):
            row[k] = {d["reason_pess" if k == "reasons" else "reason_typ"]: d["count"] for d in row[k]}
        row["cost"] = row["cost"] if row["cost"] is not None else ZERO
        out.append(row)
    return out


def _pct(a: float, b: float) -> str:
    return f"{100 * a / b:.0f}%" if b else "n/a"


def _band(lo: Decimal, hi: Decimal, factor: Decimal) -> Savings:
    low = max(lo, ZERO) * factor
    high = max(hi, lo, ZERO) * factor
    return Savings(money(low), money(high))


def _fractions(s: Savings, base: Decimal) -> tuple[float, float]:
    if base <= 0:
        return 0.0, 0.0
    return min(float(s.low / base), 1.0), min(float(s.high / base), 1.0)


def _ttl_text(seconds: float) -> str:
    if seconds >= 86_400:
        return f"{seconds / 3600:.0f} h (extended retention)"
    if seconds >= 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 60:.0f} min"


def _step_finding(
    s: dict[str, Any], m: dict[str, Decimal], div: tuple[int, int, int] | None, ctx: Context
) -> Finding | None:
    """The prefix-cache finding of one replayed step (None when there is nothing to say)."""
    long_better = (m["units_long"] < m["units_typ"]) if m else s["units_long"] < s["units_typ"]
    opt = "long" if long_better else "typ"
    ttl = s["ttl_long"] if long_better else s["ttl_typ"]
    achievable = s[f"cached_{opt}"]
    priced = bool(m)
    base = s["cost"] * ctx.factor
    band = (
        _band(m["units_actual"] - m["units_pess"], m["units_actual"] - m[f"units_{opt}"], ctx.factor)
        if priced
        else Savings(ZERO, ZERO)
    )
    stable_blocks = div[0] if div else 0
    stable_tokens = min(stable_blocks * s["B"], max(s["I_hashed"] // max(s["calls_hashed"], 1), 0))
    reasons = dict(s["reasons"])
    if div and div[0] == 0 and reasons.get("first_use", 0) > 1:
        reasons["prefix_broken"] = reasons.pop("first_use") - 1
        reasons["first_use"] = 1
    evidence: dict[str, Any] = {
        "calls": s["calls"],
        "calls_replayed": s["calls_hashed"],
        "input_tokens": s["I"],
        "actual_cached_tokens": s["R"] if s["cache_reported"] else None,
        "achievable_cached_tokens": {"low": s["cached_pess"], "high": achievable},
        "shareable_prefix_tokens": s["shareable"],
        "miss_reasons": reasons,
        "divergence_block": div[0] if div else None,
        "stable_prefix_tokens": stable_tokens,
        "block_tokens": s["B"],
        "recommended_ttl_s": ttl,
        "inter_arrival_s": {"p50": s["gap_p50"], "p90": s["gap_p90"]},
        "rules": s["rules"],
    }
    if priced:
        evidence["input_cost_usd"] = {
            "actual": money(m["units_actual"]),
            "simulated_low": money(m["units_pess"]),
            "simulated_high": money(m[f"units_{opt}"]),
        }
    where = f"{s['wf']}/{s['st']}"
    r_known = s["cache_reported"]
    if r_known and s["R"] > 0 and s["R"] >= WELL_CACHED * max(achievable, 1):
        return Finding(
            analyzer=NAME, workflow=s["wf"], step=s["st"],
            title=f"{where}: already well cached ({_pct(s['R'], s['I'])} of input read from cache, "
            f"replay reaches {_pct(achievable, s['I'])}); little left",
            action="Nothing to change for prompt caching.",
            evidence=evidence, monthly_savings_usd=band, confidence="high", validated=priced,
            base_monthly_cost_usd=base, kind="info",
        )  # fmt: skip
    if achievable <= 0 or band.high <= 0 and priced:
        below = reasons.get("below_minimum", 0)
        if below and below * 2 >= s["calls_hashed"]:
            return Finding(
                analyzer=NAME, workflow=s["wf"], step=s["st"],
                title=f"{where}: {below} of {s['calls_hashed']} calls are below the "
                f"{s['min_tok']}-token caching minimum",
                action="Caching cannot help these calls unless the shared prefix grows past the "
                "minimum (or the model changes to one with a lower minimum).",
                evidence=evidence, monthly_savings_usd=Savings(ZERO, ZERO), confidence="high",
                validated=False, kind="info",
            )  # fmt: skip
        return None
    if s["writes_priced"]:
        spot = (
            f"after the first ~{stable_tokens:,} tokens (the prefix the step's calls share)"
            if stable_tokens
            else "at the end of the stable part of the prompt"
        )
        action = f"Put a cache_control breakpoint {spot}, TTL {_ttl_text(ttl)}."
    else:
        action = "Keep the shared prefix byte-identical and first; set prompt_cache_key per template"
        action += (
            f"; use prompt_cache_retention=\"24h\" ({_ttl_text(ttl)})." if ttl >= 86_400 else "."
        )
    confidence = "high" if r_known and priced else ("medium" if priced else "low")
    lo, hi = _fractions(band, base)
    return Finding(
        analyzer=NAME, workflow=s["wf"], step=s["st"],
        title=f"{where}: {_pct(achievable, s['I'])} of input could be cache reads"
        + (f", {_pct(s['R'], s['I'])} are" if r_known else " (actual cache reads not logged)"),
        action=action, evidence=evidence, monthly_savings_usd=band, confidence=confidence,
        validated=priced, base_monthly_cost_usd=base, fraction_low=lo, fraction_high=hi,
    )  # fmt: skip


# -- a prefix that breaks at block 0 (timestamp first) -------------------------------------------


def _plain_text(text: str) -> str:
    """Kept prompts are JSON message lists: diff the message contents, not the JSON."""
    import json

    try:
        msgs = json.loads(text)
    except ValueError:
        return text
    if not isinstance(msgs, list):
        return text
    parts = []
    for m in msgs:
        c = m.get("content") if isinstance(m, dict) else m
        parts.append(c if isinstance(c, str) else json.dumps(c, ensure_ascii=False))
    return "\n".join(parts)


def text_divergence(texts: list[str]) -> dict[str, Any] | None:
    """Where kept prompt texts of one step first differ, and the stable text after that point.

    The stable text is the longest run of consecutive pieces (lines and sentences) of the first
    text that at least 80% of the texts contain: what would be cacheable if the changing pieces
    moved after it. Pieces, not characters, keep this linear in the text size.
    """
    import re

    distinct = list(dict.fromkeys(_plain_text(t) for t in texts if t))
    if len(distinct) < 2:
        return None
    a, b = distinct[0], distinct[1]
    at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    need = 0.8 * len(distinct)
    pieces = [p for p in re.split(r"(?<=[\n.!?])", a) if p]
    counts: dict[str, int] = {}
    for t in distinct:
        for piece in set(re.split(r"(?<=[\n.!?])", t)):
            counts[piece] = counts.get(piece, 0) + 1
    best: tuple[int, int] = (0, 0)  # (chars, start piece)
    run_start, run_chars = 0, 0
    for i, piece in enumerate(pieces):
        if counts.get(piece, 0) >= need and piece.strip():
            if run_chars == 0:
                run_start = i
            run_chars += len(piece)
            if run_chars > best[0]:
                best = (run_chars, run_start)
        else:
            run_chars = 0
    stable = ""
    if best[0]:
        n, i = 0, best[1]
        while n < best[0]:
            stable += pieces[i]
            n += len(pieces[i])
            i += 1
    return {
        "char_offset": at,
        "text_at_divergence": a[max(0, at - 30) : at + 50],
        "stable_text_start": stable[:60],
        "stable_text_chars": len(stable),
        "stable_text": stable,
    }


def _fix_savings(
    sim: pl.DataFrame, s: dict[str, Any], stable: int | pl.Expr, ctx: Context
) -> tuple[Savings, Decimal]:
    """Monthly savings if ``stable`` tokens (a number, or a per-call expression) became a cached
    prefix of every call of the step: replay one entry per (scope, step): a hit when the previous
    call came within the TTL. The prefix is rounded down to the provider's granularity and counts
    only at or above its minimum."""
    import polars as pl

    rows = sim.filter((pl.col("wf") == s["wf"]) & (pl.col("st") == s["st"])).sort("idx")
    size = pl.lit(stable) if isinstance(stable, int) else stable
    size = pl.min_horizontal(size, pl.col("I"))
    size = (size // pl.col("gran")) * pl.col("gran")
    rows = rows.with_columns(
        gap=(pl.col("t") - pl.col("t").shift(1)).over("scope_id"),
        nxt=(pl.col("t").shift(-1) - pl.col("t")).over("scope_id"),
        S=pl.when((pl.col("I") >= size) & (size >= pl.col("min_tok"))).then(size).otherwise(0),
    )  # fmt: skip

    def units(ttl: str, w: str, lag: bool, oracle: bool) -> pl.Expr:
        hit = (pl.col("gap") <= pl.col(ttl)) & (
            (pl.col("gap") >= pl.col("lag")) if lag else pl.lit(True)
        )
        hit = hit.fill_null(False)
        write = ~hit & ((pl.col("nxt") <= pl.col(ttl)).fill_null(False) if oracle else pl.lit(True))
        return (
            pl.col("I")
            - pl.when(hit).then(pl.col("S") * (1 - pl.col("rho"))).otherwise(0)
            + pl.when(write).then(pl.col("S") * (pl.col(w) - 1)).otherwise(0)
        )

    rows = rows.with_columns(
        u_pess=units("ttl_pess", "w_short", True, False),
        u_typ=units("ttl_typ", "w_short", False, True),
        u_long=units("ttl_long", "w_long", False, True),
    )
    m = _money_by_step(rows, ["units_actual", "u_pess", "u_typ", "u_long"]).get((s["wf"], s["st"]))
    if not m:
        return Savings(ZERO, ZERO), ZERO
    best = min(m["u_typ"], m["u_long"])
    return _band(m["units_actual"] - m["u_pess"], m["units_actual"] - best, ctx.factor), m[
        "units_actual"
    ]


TEMPLATE_SPREAD = 0.05  # first-message sizes within +-5% of the median: one template


def first_messages(
    con: Any, steps: list[tuple[str, str]], since: datetime | None, until: datetime | None
) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (workflow, step): sizes of the first message (``message_tokens[1]``, calibrated to the
    provider's input count as in analyze/trimming_prefix.sql) of the loaded calls, from `spans`
    by row_key (queries/analyze/caching_first_message.sql). Only for the steps asked about."""
    from costlab.sql import load_sql

    if not steps:
        return {}
    keys = [f"{w}\x1f{s}" for w, s in steps]
    rows = con.execute(
        load_sql("analyze/caching_first_message"), {"steps": keys, "since": since, "until": until}
    ).fetchall()
    names = ["wf", "st", "calls", "multi", "m0_p10", "m0_p50", "m0_p90", "input_p50"]
    return {(r[0], r[1]): dict(zip(names, r, strict=True)) for r in rows}


def _broken_finding(
    sim: pl.DataFrame, s: dict[str, Any], div: tuple[int, int, int], texts: list[tuple[str, str]],
    first: dict[str, Any] | None, ctx: Context,
) -> Finding:  # fmt: skip
    """Block 0 differs between calls. With kept text: where, and the stable text after it (the
    saving is replayed on it, validated). Without: chained hashes cannot show what follows block 0,
    so the stable remainder is estimated from message sizes: a first message of the same size on
    every call is a template whose first block holds something volatile (remainder = its size - one
    block, confidence medium); else everything after block 0 (an upper bound, confidence low).
    Estimates are potential savings, never validated."""
    import polars as pl

    from costlab import tokens

    where = f"{s['wf']}/{s['st']}"
    B = int(s["B"])
    evidence: dict[str, Any] = {
        "divergence_block": 0,
        "block_tokens": B,
        "calls": s["calls"],
        "calls_replayed": s["calls_hashed"],
        "sampled_calls_at_block_0": div[1],
        "distinct_first_blocks": div[2],
        "input_tokens": s["I"],
        "actual_cached_tokens": s["R"] if s["cache_reported"] else None,
    }
    band = Savings(ZERO, ZERO)
    potential: Savings | None = None
    base = s["cost"] * ctx.factor
    info = text_divergence([t for t, _ in texts]) if texts else None
    never = "never repeats" if div[2] >= div[1] else "almost never repeats"
    title = (
        f"{where}: the prompt's first {B}-token block {never}: a timestamp or id before the "
        "stable part breaks the cache"
    )
    confidence = "low"
    if info:
        stable_text = info.pop("stable_text")
        stable = tokens.count(stable_text, texts[0][1]) if stable_text else 0
        info["stable_prefix_tokens_if_moved"] = stable
        evidence.update(info)
        snippet = " ".join(info["text_at_divergence"].split())[:60]
        action = (
            f"Move the part that changes per call (at character {info['char_offset']}: "
            f"'{snippet}') after the ~{stable:,} stable tokens, and cache those."
        )
        if stable:
            band, _ = _fix_savings(sim, s, stable, ctx)
            confidence = "medium"
    else:
        template = bool(
            first and first["m0_p50"] and first["multi"] * 2 >= first["calls"]
            and first["m0_p50"] >= 2 * B
            and first["m0_p90"] - first["m0_p10"] <= TEMPLATE_SPREAD * first["m0_p50"]
        )  # fmt: skip
        if template and first:
            stable_est: int | pl.Expr = int(first["m0_p50"]) - B
            evidence |= {
                "first_message_tokens": {k: round(first[k]) for k in ("m0_p10", "m0_p50", "m0_p90")},
                "stable_remainder_tokens_estimate": stable_est,
                "estimate": "first message is the same size on every call (a template): its "
                "tokens after block 0 priced as cache reads",
            }
            confidence = "medium"
            what = f"the ~{stable_est:,} tokens of the first message after its first block"
        else:
            stable_est = (pl.col("I") - B).clip(0, None)
            evidence["estimate"] = (
                "upper bound: every input token after block 0 priced as a cache read (no text or "
                "per-message sizes to tell the stable part from the per-call part)"
            )
            what = "the stable instructions"
        potential, _ = _fix_savings(sim, s, stable_est, ctx)
        evidence["estimated_savings_usd"] = potential.to_dict()
        action = (
            "Move whatever changes per call (timestamps, ids, user names) out of the start of the "
            f"prompt, after {what}, and cache that prefix. Ingest with --keep-text to see the "
            "changing text and validate the saving."
        )
        if potential.high <= 0:
            potential = None
    lo, hi = _fractions(band, base)
    return Finding(
        analyzer=NAME, workflow=s["wf"], step=s["st"], title=title,
        action=action, evidence=evidence, monthly_savings_usd=band,
        confidence=confidence, validated=band.high > 0,
        base_monthly_cost_usd=base, fraction_low=lo, fraction_high=hi,
        potential_savings_usd=potential,
    )  # fmt: skip


# -- calls without hashes that report cache reads (Claude Code) ----------------------------------


def _history_findings(sim: pl.DataFrame, ctx: Context) -> list[Finding]:
    """Session-history estimate: a call could read the previous prompt of its session and model
    (written at its end) if it came within the longest TTL; compare with the logged reads."""
    import polars as pl

    rows = sim.lazy().filter((pl.col("nb") == 0) & pl.col("cache_reported")).select(
        "idx", "t", "session_id", "wf", "st", "scope_id", "I", "R", "W", "ttl_long", "min_tok", "rho",
        "cost", "cost_currency", "price_currency", "p_uncached",
    ).collect()  # the columns used below: an eager filter copies every column of `sim`
    if rows.is_empty():
        return []
    key = [pl.coalesce("session_id", pl.col("wf") + "/" + pl.col("st")), "scope_id"]
    rows = rows.sort("idx").with_columns(
        _gap=(pl.col("t") - pl.col("t").shift(1)).over(key),
        _prev=pl.col("I").shift(1).over(key),
    )
    est = pl.when((pl.col("_gap") <= pl.col("ttl_long")) & (pl.col("_prev") >= pl.col("min_tok")))
    rows = rows.with_columns(
        ach=pl.max_horizontal("R", est.then(pl.min_horizontal("I", "_prev")).otherwise(0))
    ).with_columns(left_units=(pl.col("ach") - pl.col("R")) * (1 - pl.col("rho")))
    usd = _money_by_step(rows, ["left_units"])
    out = []
    agg = rows.group_by("wf", "st").agg(
        calls=pl.len(), I=pl.col("I").sum(), R=pl.col("R").sum(), ach=pl.col("ach").sum(),
        W=pl.col("W").sum(), cost=pl.col("cost").filter(pl.col("cost_currency") == "USD").sum(),
    )  # fmt: skip
    for s in agg.sort("wf", "st").iter_rows(named=True):
        where = f"{s['wf']}/{s['st']}"
        evidence = {
            "calls": s["calls"], "input_tokens": s["I"], "actual_cached_tokens": s["R"],
            "actual_cache_write_tokens": s["W"], "achievable_cached_tokens_estimate": s["ach"],
            "method": "session history (no prefix hashes in this log)",
        }  # fmt: skip
        left = money(usd.get((s["wf"], s["st"]), {}).get("left_units", ZERO) * ctx.factor)
        if s["R"] >= WELL_CACHED * max(s["ach"], 1) and s["R"] > 0:
            out.append(Finding(
                analyzer=NAME, workflow=s["wf"], step=s["st"],
                title=f"{where}: already well cached ({_pct(s['R'], s['I'])} of input read from "
                f"cache, {_pct(s['R'], s['ach'])} of what the session history allows); little left",
                action="Nothing to change for prompt caching.", evidence=evidence,
                monthly_savings_usd=Savings(ZERO, ZERO), confidence="medium", validated=False,
                base_monthly_cost_usd=(s["cost"] or ZERO) * ctx.factor, kind="info",
            ))  # fmt: skip
        elif left > 0:
            out.append(Finding(
                analyzer=NAME, workflow=s["wf"], step=s["st"],
                title=f"{where}: {_pct(s['R'], s['I'])} of input is read from cache; the session "
                f"history suggests up to {_pct(s['ach'], s['I'])}",
                action="Check that the cache breakpoint moves with the conversation (automatic "
                "caching) and that nothing early in the prompt changes between turns.",
                evidence=evidence, monthly_savings_usd=Savings(ZERO, ZERO), confidence="low",
                validated=False, potential_savings_usd=Savings(ZERO, left),
                base_monthly_cost_usd=(s["cost"] or ZERO) * ctx.factor,
            ))  # fmt: skip
    return out


# -- the analyzer --------------------------------------------------------------------------------

TEXT_LIMIT = 20_000
ELIGIBILITY = (1024, 2048, 4096)


def _reasons(sim: pl.DataFrame, col: str) -> dict[str, int]:
    import polars as pl

    counts = sim.group_by(pl.col(col).fill_null("no_hashes")).len().sort(col)
    return {r: n for r, n in counts.iter_rows()}


def summarize(sim: pl.DataFrame, findings: list[Finding], ctx: Context) -> dict[str, Any]:
    """The docs/schema.md caching summary plus band totals, miss reasons and eligibility."""
    import polars as pl

    from costlab.analyze.base import combine

    total = int(sim["I"].sum() or 0)
    hashed = sim.lazy().filter(pl.col("nb") > 0).select(
        "I", "cached_pess", "cached_typ", "cached_long", "units_pess", "units_typ", "units_long"
    ).collect()  # the columns summed below, not a copy of all of `sim`
    hashed_in = int(hashed["I"].sum() or 0)
    share = int(sim["shareable"].sum() or 0)

    def saved(col: str) -> float | None:
        return round(1 - float(hashed[col].sum()) / hashed_in, 4) if hashed_in else None

    comb = combine(findings)
    potential = [f.potential_savings_usd for f in findings if f.potential_savings_usd]
    read = float(sim["R"].sum() or 0)
    if comb.high > 0:
        verdict = f"prompt/response caching could save ${money_text(comb.low)} to ${money_text(comb.high)} a month"
    elif total and read / total >= 0.5:
        verdict = (
            f"already well cached: {read / total:.0%} of input tokens are cache reads; "
            "little left to save"
        )
    else:
        verdict = "no caching saving found in this period"
    return {
        "verdict": verdict,
        "calls": sim.height,
        "calls_with_hashes": hashed.height,
        "input_tokens": total,
        "input_tokens_with_hashes": hashed_in,
        "shareable_prefix_tokens": share,
        "shareable_prefix_ratio": round(share / total, 4) if total else None,
        "actual_cache_read_tokens": int(sim["R"].sum() or 0),
        "actual_cached_ratio": round(float(sim["R"].sum()) / total, 4) if total else None,
        "achievable_cached_tokens": {
            "low": int(hashed["cached_pess"].sum() or 0),
            "high": int(max(hashed["cached_typ"].sum() or 0, hashed["cached_long"].sum() or 0)),
        },
        "input_cost_saved_vs_no_cache": {
            "pessimistic": saved("units_pess"),
            "typical_ttl": saved("units_typ"),
            "longest_ttl": saved("units_long"),
        },
        "miss_reasons": {
            "pessimistic": _reasons(sim, "reason_pess"),
            "typical_ttl": _reasons(sim, "reason_typ"),
        },
        "min_size_eligibility": {
            str(m): round(float(sim.select(pl.col("I").filter(pl.col("I") >= m).sum()).item()) / total, 4)
            if total else None
            for m in ELIGIBILITY
        },
        "monthly_savings_usd": comb.to_dict(),
        "potential_savings_usd": {
            "low": money(sum((p.low for p in potential), ZERO)),
            "high": money(sum((p.high for p in potential), ZERO)),
        },
        "unpriced_calls": int(
            sim.select((pl.col("p_uncached").is_null() | (pl.col("price_currency") != "USD")).sum()).item()
        ),
        "days_observed": round(ctx.days, 4),
        "monthly_factor": float(ctx.factor),
        "rules_used": sorted(sim["rule"].drop_nulls().unique().to_list()),
    }


def _context(sim: pl.DataFrame, since: datetime | None, until: datetime | None,
             rules: tuple[Rule, ...], cfg: dict[str, Any]) -> Context:  # fmt: skip
    """Month scaling shared with the other analyzers (`costlab.analyze.stats.window`: whole UTC
    days the calls cover, or since/until), so combined savings rest on one base."""
    from costlab.analyze.stats import window

    first = sim["start_time"].min() if sim.height else None
    last = sim["start_time"].max() if sim.height else None
    win = window(first, last, since, until)  # type: ignore[arg-type]
    if win is None:
        return Context(since, until, Decimal(MONTH_DAYS), float(MIN_DAYS), rules, cfg)
    return Context(since, until, win.to_month, float(win.days), rules, cfg)


@analyzer(NAME)
def analyze(
    lake: Lake,
    *,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    config: dict[str, Any] | None = None,
    progress: Any = None,
) -> AnalyzerResult:
    """Prompt-cache and response-cache findings for the calls in [since, until)."""

    from costlab.sql import expand_includes, load_sql
    from costlab.workspace import workspace

    ws = workspace(lake, config=config, since=since, until=until)
    cfg = dict((ws.settings.get("analyze") or {}).get("caching") or {})
    rules = load_rules(cfg.get("rules"))
    lo, hi = ws.period.since, ws.period.until
    # before the calls are built (a month of 100M calls stops in seconds), from the stored count
    # and the period's prefix blocks; on a lake without a stored count, from the calls built
    stored = ws.period_call_count()
    blocks = ws.period_prefix_blocks() if stored else 0
    memory.check_replay(ws, stored, blocks)
    con = ws.analysis_connection()  # the shared analyzer connection (materialized calls)
    if stored is None:  # the connection then holds every call: count the period's, as loaded
        calls, blocks = con.execute(
            expand_includes(
                "SELECT (SELECT count(*) FROM analyze_base WHERE\n-- include: fragments/in_period | at = start_time\n),"
                " (SELECT coalesce(sum(len(prefix_hashes)), 0) FROM analyze_spans WHERE\n"
                "-- include: fragments/in_period | at = start_time\n)",
                "the replay's size",
            ),
            {"since": lo, "until": hi},
        ).fetchall()[0]
        memory.check_replay(ws, calls, blocks)
    df = load_calls(con, lo, hi)
    tdf = con.sql(
        load_sql("analyze/caching_texts"),
        params={"limit": int(cfg.get("text_limit", TEXT_LIMIT)), "since": lo, "until": hi},
    ).pl()
    if progress:
        progress(1, 4, "loaded calls")
    if df.is_empty():
        return AnalyzerResult(NAME, {"calls": 0, "input_tokens": 0, "shareable_prefix_tokens": 0,
                                     "shareable_prefix_ratio": None}, [])  # fmt: skip
    df = attach_rules(df, rules, cfg)
    p = prepare(df, load_blocks(con, df, lo, hi))
    sim = simulate(df, p)
    del df
    if progress:
        progress(2, 4, "replayed caches")
    ctx = _context(sim, lo, hi, rules, cfg)
    div = divergence(p)
    del p
    steps = _steps(sim)
    money_cols = ["units_actual", "units_pess", "units_typ", "units_long"]
    by_money = _money_by_step(sim, money_cols)
    texts: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for wf, st, text, model in tdf.iter_rows():
        texts.setdefault((wf, st), []).append((text, model or ""))
    if progress:
        progress(3, 4, "findings")
    broken = [
        s for s in steps
        if s["calls_hashed"] >= 2 and (d := div.get(s["step_id"])) is not None and d[0] == 0
    ]  # fmt: skip
    broken_ids = {s["step_id"] for s in broken}
    firsts = first_messages(
        con, [(s["wf"], s["st"]) for s in broken if (s["wf"], s["st"]) not in texts], lo, hi
    )
    findings: list[Finding] = []
    for s in steps:
        if not s["calls_hashed"]:
            continue
        d = div.get(s["step_id"])
        if s["step_id"] in broken_ids and d:
            key = (s["wf"], s["st"])
            findings.append(_broken_finding(sim, s, d, texts.get(key, []), firsts.get(key), ctx))
            continue
        f = _step_finding(s, by_money.get((s["wf"], s["st"]), {}), d, ctx)
        if f:
            findings.append(f)
    findings += _history_findings(sim, ctx)
    findings += repeat_findings(sim, ctx.factor)
    findings += near_dup_findings(
        {k: [_plain_text(t) for t, _ in v] for k, v in texts.items()}
    )
    findings.sort(key=lambda f: (-f.monthly_savings_usd.high, f.workflow or "", f.step or ""))
    if progress:
        progress(4, 4, "done")
    return AnalyzerResult(NAME, summarize(sim, findings, ctx), findings)
