"""Prompt-cache replay over prefix-block hash chains (docs/analyzers.md, Caching), vectorised.

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
``oracle`` writes a block only if it is used again within the TTL (the upper
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
    """Per-call frame and per-block arrays the scenarios run on.

    calls (polars, rows = idx 0..n-1 in time order): idx, t (s), scope_id, step_id, I, B, nb,
    min_tok, gran, rho, elig (I >= min_tok), plus the rule columns named by scenarios.
    blocks (numpy arrays of equal length, rows in (idx, pos) order): idx, pos, key (scope x hash),
    btok (tokens in the block, capped at input), gap (s since the key's last eligible use),
    seen (the key was used before), next_gap (s to its next eligible use; NaN = none), first (rows
    of position 0). Numpy, not
    polars: a 1M-call log has ~16M blocks, and the scenarios only need masks, gathers and
    bincounts over them (no joins, no per-group windows).
    """

    calls: pl.DataFrame
    blocks: dict[str, np.ndarray]

    @property
    def n(self) -> int:
        return self.calls.height


def prepare(calls: pl.DataFrame, blocks: pl.DataFrame) -> Prepared:
    """``calls`` needs idx, t, scope_id, step_id, I, B, min_tok (+ rule columns); ``blocks`` needs
    idx, pos and either ``key`` (UInt64, already scoped) or ``h`` (UInt64, hashed here with the
    call's scope_id). Both are sorted here; idx must be time order."""
    import numpy as np
    import polars as pl

    calls = calls.sort("idx").with_columns(elig=pl.col("I") >= pl.col("min_tok"))
    if calls.height and (calls["idx"][0] != 0 or calls["idx"][-1] != calls.height - 1):
        raise ValueError("calls.idx must be 0..n-1 in time order")
    if not blocks["idx"].is_sorted():  # exploded hash lists already come in (idx, pos) order
        blocks = blocks.sort("idx", "pos")
    at = blocks["idx"].cast(pl.Int64).to_numpy()
    n = calls.height
    nb = np.bincount(at, minlength=n).astype(np.int64) if len(at) else np.zeros(n, np.int64)
    calls = calls.with_columns(nb=pl.Series("nb", nb))
    if "key" in blocks.columns:
        key = blocks["key"].cast(pl.UInt64).to_numpy()
    else:
        sc = calls["scope_id"].gather(blocks["idx"])
        key = pl.DataFrame({"s": sc, "h": blocks["h"]}).hash_rows(7).to_numpy()
    pos = blocks["pos"].cast(pl.Int32).to_numpy()
    del blocks
    ic, bc = calls["I"].to_numpy(), calls["B"].to_numpy()
    btok = np.clip(ic[at] - pos.astype(np.int64) * bc[at], 0, bc[at]).astype(np.int32)
    elig = calls["elig"].to_numpy()
    gaps = _gaps(key, calls["t"].to_numpy(), elig, at)
    b = {"idx": at, "pos": pos, "key": key, "btok": btok, "first": np.flatnonzero(pos == 0), **gaps}
    return Prepared(calls=calls, blocks=b)


def _gaps(key: np.ndarray, t_call: np.ndarray, elig_call: np.ndarray, at: np.ndarray
          ) -> dict[str, np.ndarray]:  # fmt: skip
    """Per block (rows in time order): seconds since the same key's last eligible use (gap),
    whether the key was used before at all (seen), and seconds until its next eligible use
    (next_gap); NaN when there is none. One stable sort by key (polars: multi-threaded, ~2x
    numpy's; it returns the sorted keys too), then running max/min over row numbers inside each
    key's run, in numpy: no per-group windows (millions of tiny groups are slow) and only a few
    arrays alive at a time (memory at 16M blocks)."""
    import numpy as np
    import polars as pl

    n = len(key)
    out: dict[str, np.ndarray] = {
        "gap": np.full(n, np.nan, dtype=np.float32),
        "next_gap": np.full(n, np.nan, dtype=np.float32),
        "seen": np.zeros(n, dtype=bool),
    }
    if n == 0:
        return out
    srt = pl.DataFrame({"k": key}).with_row_index("r").sort("k", maintain_order=True)
    perm = srt["r"].to_numpy()
    ks = srt["k"].to_numpy()
    del srt
    ap = at[perm]
    ts, es = t_call[ap], elig_call[ap]
    del ap
    row = np.arange(n, dtype=np.int32)
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(ks[1:], ks[:-1], out=new[1:])
    del ks
    out["seen"][perm] = ~new
    start = np.maximum.accumulate(np.where(new, row, np.int32(0)))
    prev_e = np.empty(n, dtype=np.int32)
    prev_e[0] = -1
    prev_e[1:] = np.maximum.accumulate(np.where(es, row, np.int32(-1)))[:-1]
    ok = prev_e >= start
    vals = np.where(ok, ts - ts[np.maximum(prev_e, 0)], np.nan).astype(np.float32)
    out["gap"][perm] = vals
    del prev_e, start, ok, vals
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


def _leading(p: Prepared, dead: np.ndarray) -> np.ndarray:
    """Per call, the number of leading blocks before the first ``dead`` one (all: nb)."""
    import numpy as np

    k = p.calls["nb"].to_numpy().copy()
    d = np.flatnonzero(dead)
    if d.size:
        di = p.blocks["idx"][d]
        first = np.empty(d.size, dtype=bool)
        first[0] = True
        np.not_equal(di[1:], di[:-1], out=first[1:])
        k[di[first]] = p.blocks["pos"][d[first]]
    return k


def shareable(p: Prepared) -> pl.DataFrame:
    """Per call: tokens in leading blocks whose hash appeared earlier in the log (unbounded cache,
    no minimum, no granularity): the docs/schema.md ``shareable_prefix_tokens``."""
    import polars as pl

    k = _leading(p, ~p.blocks["seen"])
    return p.calls.select("idx", "I", "B").select(
        "idx", shareable=(pl.lit(pl.Series(k)) * pl.col("B")).clip(None, pl.col("I"))
    )


def first_block(p: Prepared, name: str) -> np.ndarray:
    """Per call: block array ``name`` at position 0 (NaN / False for calls without blocks)."""
    import numpy as np

    arr = p.blocks[name]
    out = np.zeros(p.n, dtype=bool) if arr.dtype == bool else np.full(p.n, np.nan, np.float32)
    rows = p.blocks["first"]
    out[p.blocks["idx"][rows]] = arr[rows]
    return out


def run(p: Prepared, s: Scenario) -> pl.DataFrame:
    """Per call: cached, written and units under scenario ``s``, and the miss reason."""
    import numpy as np
    import polars as pl

    c = p.calls
    b = p.blocks
    ttl_c = c[s.ttl].cast(pl.Float32).to_numpy()
    lag_c = c[s.lag].cast(pl.Float32).to_numpy() if s.lag else np.zeros(p.n, np.float32)
    at = b["idx"]
    ttl_b = ttl_c[at]
    gap = b["gap"]
    with np.errstate(invalid="ignore"):
        alive = gap <= ttl_b
        if s.lag:
            alive &= gap >= lag_c[at]
    k = _leading(p, ~alive)
    del alive
    out = c.with_columns(k=pl.Series(k), _ttl=pl.Series(ttl_c), _lag=pl.Series(lag_c))
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
        cached = out["cached"].to_numpy()
        elig_c = c["elig"].to_numpy()
        bc = c["B"].to_numpy()
        with np.errstate(invalid="ignore"):
            m = b["next_gap"] <= ttl_b
        m &= elig_c[at]
        m &= b["pos"].astype(np.int64) * bc[at] >= cached[at]
        w = np.bincount(at[m], weights=b["btok"][m], minlength=p.n)
        out = out.with_columns(
            written=pl.lit(pl.Series(w)).cast(pl.Int64).clip(None, pl.col("I") - pl.col("cached"))
        )
    else:
        out = out.with_columns(
            written=pl.when(pl.col("elig")).then(pl.col("I") - pl.col("cached")).otherwise(0)
        )
    del ttl_b
    wm = pl.col(s.write_mult)
    out = out.with_columns(
        units=pl.col("cached") * pl.col("rho")
        + pl.col("written") * wm
        + (pl.col("I") - pl.col("cached") - pl.col("written")),
        gap=pl.Series(first_block(p, "gap"), nan_to_null=True),
        seen=pl.Series(first_block(p, "seen")),
    )
    reason = (
        pl.when(pl.col("nb") == 0).then(pl.lit("no_hashes"))
        .when(pl.col("cached") > 0).then(pl.lit("hit"))
        .when(pl.col("_overflowed")).then(pl.lit("overflow"))
        .when(pl.col("_ttl") < 0).then(pl.lit("best_effort"))
        .when(~pl.col("elig") | (pl.col("_raw") > 0)).then(pl.lit("below_minimum"))
        .when(~pl.col("seen")).then(pl.lit("first_use"))
        .when(pl.col("gap").is_null()).then(pl.lit("below_minimum"))
        .when(pl.col("gap") < pl.col("_lag")).then(pl.lit("visibility_lag"))
        .otherwise(pl.lit("ttl_expiry"))
    )  # fmt: skip
    return out.select("idx", "cached", "written", "units", reason=reason)


def _overflow(p: Prepared, out: pl.DataFrame) -> pl.DataFrame:
    """Turn the first ``m - 1`` hits of each burst per (scope, first block) into misses: ``m`` is
    the machines the busiest minute of that prefix needs (ceil(calls / rpm)); a burst is a run of
    uses no more than a TTL apart. Numpy over the first blocks sorted by key (stable: time order
    within a key)."""
    import numpy as np
    import polars as pl

    rows = p.blocks["first"]
    idx = p.blocks["idx"][rows]
    rpm = p.calls["rpm"].to_numpy()[idx]
    keep = p.calls["elig"].to_numpy()[idx] & (rpm > 0)
    idx, rpm = idx[keep], rpm[keep]
    cold = np.zeros(p.n, dtype=bool)
    if idx.size:
        srt = pl.DataFrame({"k": p.blocks["key"][rows][keep]}).with_row_index("r").sort(
            "k", maintain_order=True
        )
        perm = srt["r"].to_numpy()
        ks = srt["k"].to_numpy()
        idx, rpm = idx[perm], rpm[perm]
        ts = p.calls["t"].to_numpy()[idx]
        ttl = out["_ttl"].to_numpy()[idx]
        n = idx.size
        new = np.r_[True, ks[1:] != ks[:-1]]
        keyid = np.cumsum(new) - 1
        minute = np.floor(ts / 60)
        newm = new | np.r_[True, minute[1:] != minute[:-1]]
        run = np.cumsum(newm) - 1
        need = np.ceil(np.bincount(run) / rpm[newm]).astype(np.int64)
        m = np.zeros(int(keyid[-1]) + 1, dtype=np.int64)
        np.maximum.at(m, keyid[newm], need)
        gap = np.r_[np.inf, ts[1:] - ts[:-1]]
        newb = new | (gap > ttl)
        starts = np.flatnonzero(newb)
        rank = np.arange(n) - starts[np.cumsum(newb) - 1] + 1
        mk = m[keyid]
        cold[idx[(mk > 1) & (rank >= 2) & (rank <= mk)]] = True
    c = pl.lit(pl.Series("_cold", cold))
    return out.with_columns(
        _overflowed=c & (pl.col("cached") > 0),
        cached=pl.when(c).then(0).otherwise(pl.col("cached")),
    )
