"""Response caching: exact repeats (savings) and near-duplicate prompts (candidates only).

Why separate from prompt caching: a response cache skips the call entirely, so its saving is the
whole repeated call's cost, and it is only safe for deterministic steps without side effects
(docs/analyzers.md). Exact repeats share ``prompt_hash`` (sha256 of the normalised
messages; compared as its 64-bit hash ``prompt_key``) on the same model within 24 h; near-duplicates are found by SimHash over the part of a
step's prompts that varies and are never counted as savings.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from costlab.analyze.base import Finding, Savings, money

if TYPE_CHECKING:
    import polars as pl

NAME = "caching"
RESPONSE_WINDOW_S = 86_400  # exact repeats count within 24 h (docs/analyzers.md: freshness window)
ZERO = Decimal(0)


def _fractions(s: Savings, base: Decimal) -> tuple[float, float]:
    if base <= 0:
        return 0.0, 0.0
    return min(float(s.low / base), 1.0), min(float(s.high / base), 1.0)


def repeat_findings(sim: pl.DataFrame, factor: Decimal) -> list[Finding]:
    """Exact repeats: the same prompt_hash on the same model within 24 h of its last use."""
    import polars as pl

    rows = sim.select("idx", "t", "scope_id", "prompt_key", "wf", "st", "cost", "cost_currency")
    rows = rows.filter(pl.col("prompt_key").is_not_null())
    if rows.is_empty():
        return []
    rows = rows.with_columns(  # sim is in idx (time) order
        gap=(pl.col("t") - pl.col("t").shift(1)).over("scope_id", "prompt_key")
    )
    rep = rows.filter(pl.col("gap") <= RESPONSE_WINDOW_S)
    if rep.is_empty():
        return []
    usd = pl.col("cost_currency") == "USD"
    cost = rows.group_by("wf", "st").agg(cost=pl.col("cost").filter(usd).sum(), calls=pl.len())
    agg = rep.group_by("wf", "st").agg(
        repeats=pl.len(),
        prompts=pl.col("prompt_key").n_unique(),
        repeat_cost=pl.col("cost").filter(usd).sum(),
        unpriced=pl.col("cost").is_null().sum(),
    ).join(cost, on=["wf", "st"])
    out = []
    for s in agg.sort("wf", "st").iter_rows(named=True):
        save = money((s["repeat_cost"] or ZERO) * factor)
        base = (s["cost"] or ZERO) * factor
        band = Savings(save, save)
        lo, hi = _fractions(band, base)
        out.append(Finding(
            analyzer=NAME, workflow=s["wf"], step=s["st"],
            title=f"{s['wf']}/{s['st']}: {s['repeats']} of {s['calls']} calls repeat an identical "
            f"request made within 24 h",
            action="Cache responses for identical requests (same model, parameters and messages) "
            "for up to 24 h, if the step is deterministic and has no side effects.",
            evidence={"calls": s["calls"], "repeated_calls": s["repeats"],
                      "distinct_repeated_prompts": s["prompts"], "window_s": RESPONSE_WINDOW_S,
                      "unpriced_repeats": s["unpriced"]},
            monthly_savings_usd=band, confidence="medium", validated=save > 0,
            base_monthly_cost_usd=base, fraction_low=lo, fraction_high=hi,
        ))  # fmt: skip
    return out


def _words(text: str) -> list[str]:
    import re

    return re.findall(r"\w+", text.lower())


def simhash(text: str, words: int = 3, limit: int = 2000) -> int:
    """64-bit SimHash (Charikar) of ``words``-word shingles of the first ``limit`` normalised
    words (lower case, punctuation and whitespace dropped)."""
    import hashlib

    toks = _words(text)[:limit]
    shingles = {" ".join(toks[i : i + words]) for i in range(max(1, len(toks) - words + 1))}
    acc = [0] * 64
    for sh in shingles:
        h = int.from_bytes(hashlib.blake2b(sh.encode(), digest_size=8).digest(), "little")
        for bit in range(64):
            acc[bit] += 1 if h >> bit & 1 else -1
    return sum(1 << bit for bit in range(64) if acc[bit] > 0)


def near_duplicates(texts: list[str], max_distance: int = 3) -> int:
    """How many distinct texts have a near-duplicate earlier in the list: SimHash Hamming distance
    <= ``max_distance`` on the part that varies (lines and sentences that 80% of the texts share
    are dropped first, so a shared template does not make different questions look alike); 4 bands
    of 16 bits find the candidates (Manku et al., WWW'07)."""
    import re

    distinct = list(dict.fromkeys(texts))
    if len(distinct) < 2:
        return 0
    split = [re.split(r"(?<=[\n.!?])", t) for t in distinct]
    counts: dict[str, int] = {}
    for pieces in split:
        for piece in set(pieces):
            counts[piece] = counts.get(piece, 0) + 1
    common = {p for p, n in counts.items() if n >= 0.8 * len(distinct)}
    seen: dict[tuple[int, int], list[int]] = {}
    count = 0
    for pieces in split:
        h = simhash("".join(p for p in pieces if p not in common))
        bands = [(i, h >> (16 * i) & 0xFFFF) for i in range(4)]
        if any(
            bin(h ^ other).count("1") <= max_distance for b in bands for other in seen.get(b, [])
        ):
            count += 1
        for b in bands:
            seen.setdefault(b, []).append(h)
    return count


def near_dup_findings(texts: dict[tuple[str, str], list[str]]) -> list[Finding]:
    out = []
    for (wf, st), items in sorted(texts.items()):
        distinct = list(dict.fromkeys(items))
        n = near_duplicates(distinct)
        if n:
            out.append(Finding(
                analyzer=NAME, workflow=wf, step=st,
                title=f"{wf}/{st}: {n} of {len(distinct)} distinct prompts are near-duplicates of "
                "an earlier one",
                action="Candidate for a semantic response cache: validate on labelled pairs before "
                "counting any saving (a static similarity threshold guarantees nothing).",
                evidence={"distinct_prompts_sampled": len(distinct), "near_duplicates": n,
                          "method": "SimHash 64-bit over 3-word shingles of the varying part, "
                          "Hamming <= 3"},
                monthly_savings_usd=Savings(ZERO, ZERO), confidence="low", validated=False,
                kind="candidate",
            ))  # fmt: skip
    return out
