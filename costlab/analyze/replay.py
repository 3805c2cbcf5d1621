"""Prompt-cache replay over prefix-block hash chains (research/analyzers.md §2.2), vectorised.

Why vectorised: a 1M-call log has tens of millions of blocks; a Python loop over them misses the
60 s budget. The replay rests on one property of chained hashes (``h_i = H(h_{i-1}, block_i)``):
block i of a call is in cache iff the same hash was *used* (written or hit) by an eligible call
within the TTL before it, because with writes at the end of every prompt and TTL refreshed on hit,
an entry's lifetime restarts at every call that contains it. So "alive" is a window function over
``(scope, hash)`` ordered by time, and the cached prefix is the leading run of alive blocks.

Units: costs are in *base-input-token equivalents* (uncached input = 1, read = rho, write = w),
so money is ``units x uncached price`` applied later in Decimal. A call's input cost in units is
``cached*rho + written*w + (input - cached - written)``.

Scenarios (`Scenario`) choose TTL, first-write visibility lag, per-prefix overflow and the write
policy: ``naive`` writes everything after the hit (a breakpoint at the end of each prompt);
``oracle`` writes a block only if it is used again within the TTL (the analyzers.md §2.3 upper
bound). Approximations, stated so nobody over-trusts them:

* visibility lag: an entry used less than ``lag`` seconds ago counts as a miss even if an older
  use would still be alive (pessimistic, as intended);
* overflow (OpenAI ~15 req/min per prefix): per (scope, first block) the busiest minute needs
  ``m = ceil(n / rpm)`` machines; the first ``m - 1`` would-be hits of every burst of traffic
  (uses no more than a TTL apart) miss, one cold machine each;
* the oracle credits a write if the block's next use falls within the TTL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

REASONS = (
    "hit",
    "first_use",
    "prefix_broken",
    "ttl_expiry",
    "visibility_lag",
    "overflow",
    "below_minimum",
    "best_effort",
    "no_hashes",
)


@dataclass(frozen=True)
class Scenario:
    """One replay setting. Column names refer to per-call columns of the prepared calls frame
    (each call carries its own rule's numbers), so one scenario spans many providers."""

    name: str
    ttl: str  # column with the TTL in seconds (negative = no hits at all)
    write_mult: str  # column with the write multiplier
    lag: str | None = None  # column with the visibility lag, None = none
    overflow: bool = False
    policy: str = "naive"  # "naive" | "oracle"


@dataclass
class Prepared:
    """Per-call and per-block frames the scenarios run on.

    calls: idx (time order), t (s), scope_id, step_id, I, B, nb, min_tok, gran, rho, elig (I >=
    min_tok), plus the rule columns named
    by scenarios. blocks (in idx, pos order): idx, pos, key (scope x hash), btok (tokens in the
    block, capped at input), gap (s since the hash's last eligible use), gap_any (s since any use),
    next_gap (s to its next eligible use), the call's step_id and elig. Narrow types: a 1M-call
    log has ~20M blocks.
    """

    calls: pl.DataFrame
    blocks: pl.DataFrame


def prepare(calls: pl.DataFrame, blocks: pl.DataFrame) -> Prepared:
    """``calls`` needs idx, t, scope_id, step_id, I, B, min_tok (+ rule columns); ``blocks`` needs
    idx, pos, h (UInt64). Both are sorted here; idx must be time order."""
    import polars as pl

    calls = calls.sort("idx").with_columns(
        elig=pl.col("I") >= pl.col("min_tok"),
    )
    if calls.height and (calls["idx"][0] != 0 or calls["idx"][-1] != calls.height - 1):
        raise ValueError("calls.idx must be 0..n-1 in time order")
    nb = blocks.group_by("idx").agg(nb=pl.len())
    calls = calls.join(nb, on="idx", how="left").with_columns(pl.col("nb").fill_null(0))
    if not blocks["idx"].is_sorted():  # exploded hash lists already come in (idx, pos) order
        blocks = blocks.sort("idx", "pos")
    at = blocks["idx"]  # calls are rows 0..n-1: per-call values reach blocks by gather
    key = pl.DataFrame({"s": calls["scope_id"].gather(at), "h": blocks["h"]}).hash_rows(7)
    btok = (
        (calls["I"].gather(at) - blocks["pos"] * calls["B"].gather(at))
        .clip(0, None)
        .clip(None, calls["B"].gather(at))
    )
    gaps = _gaps(key.to_numpy(), calls["t"].to_numpy()[at.to_numpy()],
                 calls["elig"].to_numpy()[at.to_numpy()])  # fmt: skip
    b = pl.DataFrame(
        {
            "idx": at,
            "pos": blocks["pos"].cast(pl.Int32),
            "key": key,
            "btok": btok.cast(pl.Int32),
            **{name: pl.Series(name, arr, nan_to_null=True) for name, arr in gaps.items()},
            "step_id": calls["step_id"].cast(pl.Int32).gather(at),
            "elig": calls["elig"].gather(at),
        }
    )
    return Prepared(calls=calls, blocks=b)


def _gaps(key: np.ndarray, t: np.ndarray, elig: np.ndarray) -> dict[str, np.ndarray]:
    """Per block (rows in time order): seconds since the same key's last eligible use (gap),
    since its last use of any kind (gap_any), and until its next eligible use (next_gap); NaN
    when there is none. One stable argsort by key, then running max/min over row numbers inside
    each key's run, in numpy: no per-group windows (millions of tiny groups are slow) and only a
    few arrays alive at a time (memory at 20M blocks)."""
    import numpy as np

    n = len(key)
    out = {name: np.full(n, np.nan, dtype=np.float32) for name in ("gap", "gap_any", "next_gap")}
    if n == 0:
        return out
    perm = np.argsort(key, kind="stable").astype(np.int32)
    ks, ts, es = key[perm], t[perm], elig[perm]
    del key
    row = np.arange(n, dtype=np.int32)
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(ks[1:], ks[:-1], out=new[1:])
    del ks
    start = np.maximum.accumulate(np.where(new, row, np.int32(0)))
    prev_e = np.empty(n, dtype=np.int32)
    prev_e[0] = -1
    prev_e[1:] = np.maximum.accumulate(np.where(es, row, np.int32(-1)))[:-1]
    ok = prev_e >= start
    vals = np.where(ok, ts - ts[np.maximum(prev_e, 0)], np.nan).astype(np.float32)
    out["gap"][perm] = vals
    del prev_e, start, ok
    prev_any = np.where(new, np.nan, ts - np.r_[ts[:1], ts[:-1]]).astype(np.float32)
    out["gap_any"][perm] = prev_any
    del prev_any
    last = np.empty(n, dtype=bool)
    last[-1] = True
    last[:-1] = new[1:]
    big = np.int32(n)
    end = np.minimum.accumulate(np.where(last, row, big)[::-1])[::-1]
    next_e = np.empty(n, dtype=np.int32)
    next_e[-1] = big
    next_e[:-1] = np.minimum.accumulate(np.where(es, row, big)[::-1])[::-1][1:]
    ok = next_e <= end
    vals = np.where(ok, ts[np.minimum(next_e, n - 1)] - ts, np.nan).astype(np.float32)
    out["next_gap"][perm] = vals
    return out


def shareable(p: Prepared) -> pl.DataFrame:
    """Per call: tokens in leading blocks whose hash appeared earlier in the log (unbounded cache,
    no minimum, no granularity): the SCHEMA.md ``shareable_prefix_tokens``."""
    import polars as pl

    k = _leading(p, pl.col("gap_any").is_not_null())
    return p.calls.select("idx", "I", "B").join(k, on="idx", how="left").select(
        "idx",
        shareable=(pl.col("k").fill_null(0) * pl.col("B")).clip(None, pl.col("I")),
    )


def _leading(p: Prepared, alive: pl.Expr, blocks: pl.DataFrame | None = None) -> pl.DataFrame:
    """idx -> k, the number of leading blocks for which ``alive`` holds."""
    import polars as pl

    first_dead = (
        (p.blocks if blocks is None else blocks).filter(~alive.fill_null(False)).group_by("idx").agg(k=pl.col("pos").min())
    )
    return (
        p.calls.select("idx", "nb")
        .join(first_dead, on="idx", how="left")
        .select("idx", k=pl.coalesce("k", "nb"))
    )


def run(p: Prepared, s: Scenario) -> pl.DataFrame:
    """Per call: cached, written and units under scenario ``s``, and the miss reason."""
    import polars as pl

    c = p.calls
    ttl = c.select("idx", _ttl=pl.col(s.ttl), _lag=pl.col(s.lag) if s.lag else pl.lit(0.0))
    at = p.blocks["idx"]  # calls are rows 0..n-1: per-call values reach blocks by gather
    b = p.blocks.select("idx", "pos", "gap", "next_gap", "btok", "elig").with_columns(
        _ttl=ttl["_ttl"].cast(pl.Float32).gather(at), _lag=ttl["_lag"].cast(pl.Float32).gather(at)
    )
    alive = (pl.col("gap") <= pl.col("_ttl")) & (pl.col("gap") >= pl.col("_lag"))
    k = _leading(p, alive, b)
    out = c.join(k, on="idx", how="left").join(ttl, on="idx", how="left")
    raw = (pl.col("k") * pl.col("B")).clip(None, pl.col("I"))
    gran = (raw // pl.col("gran")) * pl.col("gran")
    out = out.with_columns(
        _raw=pl.when(pl.col("elig")).then(raw).otherwise(0),
        cached=pl.when(pl.col("elig") & (gran >= pl.col("min_tok"))).then(gran).otherwise(0),
    )
    if s.overflow:
        out = _overflow(p, out)
    else:
        out = out.with_columns(_overflowed=pl.lit(False))
    # writes
    if s.policy == "oracle":
        reused = (
            b.filter((pl.col("next_gap") <= pl.col("_ttl")) & pl.col("elig"))
            .join(out.select("idx", "k", "cached", "B"), on="idx")
            .filter(pl.col("pos") * pl.col("B") >= pl.col("cached"))
            .group_by("idx")
            .agg(_w=pl.col("btok").sum())
        )
        out = out.join(reused, on="idx", how="left").with_columns(
            written=pl.col("_w").fill_null(0).clip(None, pl.col("I") - pl.col("cached"))
        )
    else:
        out = out.with_columns(
            written=pl.when(pl.col("elig")).then(pl.col("I") - pl.col("cached")).otherwise(0)
        )
    w = pl.col(s.write_mult)
    out = out.with_columns(
        units=pl.col("cached") * pl.col("rho")
        + pl.col("written") * w
        + (pl.col("I") - pl.col("cached") - pl.col("written")),
    )
    first = p.blocks.filter(pl.col("pos") == 0).select("idx", "gap", "gap_any")
    out = out.join(first, on="idx", how="left")
    reason = (
        pl.when(pl.col("nb") == 0).then(pl.lit("no_hashes"))
        .when(pl.col("cached") > 0).then(pl.lit("hit"))
        .when(pl.col("_overflowed")).then(pl.lit("overflow"))
        .when(pl.col("_ttl") < 0).then(pl.lit("best_effort"))
        .when(~pl.col("elig") | (pl.col("_raw") > 0)).then(pl.lit("below_minimum"))
        .when(pl.col("gap_any").is_null()).then(pl.lit("first_use"))
        .when(pl.col("gap").is_null()).then(pl.lit("below_minimum"))
        .when(pl.col("gap") < pl.col("_lag")).then(pl.lit("visibility_lag"))
        .otherwise(pl.lit("ttl_expiry"))
    )  # fmt: skip
    return out.select("idx", "cached", "written", "units", reason=reason)


def _overflow(p: Prepared, out: pl.DataFrame) -> pl.DataFrame:
    """Turn the first ``m - 1`` hits of each burst per (scope, first block) into misses."""
    import polars as pl

    rpm = p.calls.select("idx", _rpm=pl.col("rpm"))
    first = (
        p.blocks.filter((pl.col("pos") == 0) & pl.col("elig"))
        .select("idx", "key")
        .join(p.calls.select("idx", "t"), on="idx")
        .join(rpm, on="idx")
        .join(out.select("idx", "_ttl"), on="idx")
        .filter(pl.col("_rpm") > 0)
        .sort("key", "idx")
    )
    if first.is_empty():
        return out.with_columns(_overflowed=pl.lit(False))
    first = first.with_columns(minute=(pl.col("t") // 60).cast(pl.Int64))
    per_min = first.group_by("key", "minute").agg(n=pl.len(), rpm=pl.col("_rpm").first())
    machines = per_min.group_by("key").agg(
        m=((pl.col("n") / pl.col("rpm")).ceil()).max().cast(pl.Int64)
    )
    first = first.join(machines, on="key").with_columns(
        burst=(
            (pl.col("t") - pl.col("t").shift(1)).over("key").fill_null(float("inf"))
            > pl.col("_ttl")
        ).cum_sum().over("key")
    )
    first = first.with_columns(rank=pl.col("idx").rank("ordinal").over("key", "burst"))
    cold = first.filter((pl.col("m") > 1) & (pl.col("rank") >= 2) & (pl.col("rank") <= pl.col("m")))
    out = out.join(cold.select("idx", _cold=pl.lit(True)), on="idx", how="left")
    hit = pl.col("cached") > 0
    return out.with_columns(
        _overflowed=pl.col("_cold").fill_null(False) & hit,
        cached=pl.when(pl.col("_cold").fill_null(False)).then(0).otherwise(pl.col("cached")),
    ).drop("_cold")
