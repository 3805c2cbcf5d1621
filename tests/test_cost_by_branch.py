"""Cost per repository, branch and ticket for coding agents (Claude Code, Codex).

The session logs are constructed here, in the shapes of tests/fixtures/claude_code and
tests/fixtures/codex (see their PROVENANCE.md): one Claude Code session and one Codex rollout in
the repository ``shop-app``, on the branches ``feature/ABC-123-login`` and ``main``.

Prices (genai-prices, as `costlab prices claude-sonnet-4-5` and `costlab prices gpt-5-codex`
print them), USD per million tokens:

  claude-sonnet-4-5: input 3, cache read 0.30, cache write (5m) 3.75, output 15
  gpt-5-codex (priced as gpt-5): input 1.25, cache read 0.125, output 10 (reasoning is output)

Each call's cost, by hand (uncached input = inclusive input - cache read - cache write):

  CC 1  feature  uncached 1000, read 10000, write 2000, out 500
        1000*3 + 10000*0.30 + 2000*3.75 + 500*15 = 3000 + 3000 + 7500 + 7500 = 21000 / 1e6 = 0.021
  CC 2  feature  uncached 2000, read 20000, write 0, out 1000
        2000*3 + 20000*0.30 + 1000*15 = 6000 + 6000 + 15000 = 27000 / 1e6 = 0.027
  CC 3  main     uncached 4000, out 200: 4000*3 + 200*15 = 12000 + 3000 = 15000 / 1e6 = 0.015
  CX 1  feature  input 10000 of which cached 4000, out 600 (200 reasoning)
        6000*1.25 + 4000*0.125 + 600*10 = 7500 + 500 + 6000 = 14000 / 1e6 = 0.014
  CX 2  feature  input 20000 of which cached 16000, out 400
        4000*1.25 + 16000*0.125 + 400*10 = 5000 + 2000 + 4000 = 11000 / 1e6 = 0.011
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from costlab.attribution import AttributionRules
from costlab.errors import CostlabError
from costlab.ingest.run import ingest
from costlab.lake import Lake
from costlab.workspace import Workspace

SESSION = "7c1d2e3f-0a1b-4c2d-8e9f-a0b1c2d3e4f5"
CODEX_ID = "0199f0b1-2222-7333-8444-555566667777"
FEATURE = "feature/ABC-123-login"


def _assistant(n: int, ts: str, branch: str, uncached: int, read: int, write: int, out: int) -> dict[str, Any]:
    return {
        "type": "assistant",
        "sessionId": SESSION,
        "uuid": f"a{n}",
        "parentUuid": f"u{n}",
        "timestamp": ts,
        "cwd": "/home/dev/src/shop-app",
        "gitBranch": branch,
        "version": "2.0.14",
        "requestId": f"req_{n}",
        "message": {
            "id": f"msg_{n}",
            "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": [{"type": "text", "text": "done"}],
            "stop_reason": "end_turn",
            "usage": {
                "input_tokens": uncached,
                "cache_read_input_tokens": read,
                "cache_creation_input_tokens": write,
                "output_tokens": out,
            },
        },
    }


def _user(n: int, ts: str, branch: str) -> dict[str, Any]:
    return {
        "type": "user",
        "sessionId": SESSION,
        "uuid": f"u{n}",
        "parentUuid": None if n == 1 else f"a{n - 1}",
        "timestamp": ts,
        "cwd": "/home/dev/src/shop-app",
        "gitBranch": branch,
        "version": "2.0.14",
        "message": {"role": "user", "content": "go on"},
    }


def _token_count(ts: str, last: dict[str, int], total: dict[str, int]) -> dict[str, Any]:
    return {
        "timestamp": ts,
        "type": "event_msg",
        "payload": {
            "type": "token_count",
            "info": {"total_token_usage": total, "last_token_usage": last, "model_context_window": 272000},
        },
    }


def _usage(inp: int, cached: int, out: int, reasoning: int) -> dict[str, int]:
    return {
        "input_tokens": inp,
        "cached_input_tokens": cached,
        "output_tokens": out,
        "reasoning_output_tokens": reasoning,
        "total_tokens": inp + out,
    }


def write_logs(root: Path) -> list[Path]:
    """One Claude Code session (2 calls on the feature branch, then 1 on main, the day after) and
    one Codex rollout on the feature branch (2 calls), in ``root``."""
    cc = root / "claude" / "projects" / "-home-dev-src-shop-app" / f"{SESSION}.jsonl"
    cc.parent.mkdir(parents=True)
    lines = [
        _user(1, "2025-10-21T09:00:00.000Z", FEATURE),
        _assistant(1, "2025-10-21T09:00:05.000Z", FEATURE, 1000, 10000, 2000, 500),
        _user(2, "2025-10-21T09:01:00.000Z", FEATURE),
        _assistant(2, "2025-10-21T09:01:05.000Z", FEATURE, 2000, 20000, 0, 1000),
        _user(3, "2025-10-22T10:00:00.000Z", "main"),
        _assistant(3, "2025-10-22T10:00:05.000Z", "main", 4000, 0, 0, 200),
    ]
    cc.write_text("".join(json.dumps(x) + "\n" for x in lines))
    cx = root / "codex" / "sessions" / "2025" / "10" / "21" / f"rollout-2025-10-21T11-00-00-{CODEX_ID}.jsonl"
    cx.parent.mkdir(parents=True)
    meta = {
        "timestamp": "2025-10-21T11:00:00.000Z",
        "type": "session_meta",
        "payload": {
            "id": CODEX_ID,
            "timestamp": "2025-10-21T11:00:00.000Z",
            # a worktree folder: the repository's name comes from its remote URL
            "cwd": "/home/dev/wt/shop-app-login",
            "originator": "codex_cli_rs",
            "cli_version": "0.46.0",
            "source": "cli",
            "model_provider": "openai",
            "git": {
                "commit_hash": "9a8b7c6",
                "branch": FEATURE,
                "repository_url": "git@github.com:acme/shop-app.git",
            },
        },
    }
    turn = {
        "timestamp": "2025-10-21T11:00:00.010Z",
        "type": "turn_context",
        "payload": {"cwd": "/home/dev/wt/shop-app-login", "model": "gpt-5-codex", "effort": "medium"},
    }
    first = _usage(10000, 4000, 600, 200)
    second = _usage(20000, 16000, 400, 0)
    both = {k: first[k] + second[k] for k in first}
    events = [
        meta,
        turn,
        _token_count("2025-10-21T11:00:10.000Z", first, first),
        _token_count("2025-10-21T11:00:20.000Z", second, both),
    ]
    cx.write_text("".join(json.dumps(x) + "\n" for x in events))
    return [cc, cx]


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    res = ingest(write_logs(tmp_path / "logs"), lake=tmp_path / "lake")
    assert not res.failed and res.rows_quarantined == 0
    return Lake(tmp_path / "lake")


def by_branch(ws: Workspace, rules: AttributionRules | None = None) -> list[tuple[Any, ...]]:
    frame = ws.query("cost_by_branch", rules=rules)
    cols = ["repo", "branch", "ticket", "currency", "calls", "input_tokens", "output_tokens", "cost",
            "unpriced_calls", "sessions", "first_day", "last_day"]  # fmt: skip
    return [tuple(r[c] for c in cols) for r in frame.iter_rows(named=True)]


def test_spans_carry_repo_and_branch(lake: Lake) -> None:
    rows = Workspace(lake, config={}).rows(
        "SELECT source_format, repo, branch, count(*) FROM spans GROUP BY ALL ORDER BY ALL"
    )
    # Claude Code: basename of cwd, gitBranch; Codex: the name in repository_url (not the
    # worktree folder shop-app-login), session_meta.git.branch
    assert rows == [
        ("claude_code", "shop-app", FEATURE, 2),
        ("claude_code", "shop-app", "main", 1),
        ("codex", "shop-app", FEATURE, 2),
    ]


def test_cost_by_branch_sums_by_hand(lake: Lake) -> None:
    # feature: CC 1, CC 2, CX 1, CX 2. input (inclusive): CC 1000+10000+2000 = 13000,
    #   2000+20000 = 22000; CX 10000, 20000 -> 65000. output 500+1000+600+400 = 2500.
    #   cost 0.021+0.027+0.014+0.011 = 0.073. sessions: the Claude Code session and the rollout.
    # main: CC 3 only: input 4000, output 200, cost 0.015, the Claude Code session, 2025-10-22.
    assert by_branch(Workspace(lake, config={})) == [
        ("shop-app", FEATURE, "ABC-123", "USD", 4, Decimal(65000), Decimal(2500), Decimal("0.073"),
         0, 2, date(2025, 10, 21), date(2025, 10, 21)),
        ("shop-app", "main", "(none)", "USD", 1, Decimal(4000), Decimal(200), Decimal("0.015"),
         0, 1, date(2025, 10, 22), date(2025, 10, 22)),
    ]  # fmt: skip


def test_ticket_is_null_without_a_match(lake: Lake) -> None:
    rows = Workspace(lake, config={}).rows(
        "SELECT branch, ticket, count(*) FROM calls_attributed GROUP BY ALL ORDER BY ALL"
    )
    assert rows == [(FEATURE, "ABC-123", 4), ("main", None, 1)]


def test_pattern_and_maps_from_costlab_toml(lake: Lake, tmp_path: Path) -> None:
    toml = tmp_path / "costlab.toml"
    toml.write_text(
        "[attribution]\n"
        # the JIRA project key instead of the whole ticket: first group 'ABC'
        'ticket_pattern = "([A-Z]+)-\\\\d+"\n'
        "[attribution.tickets]\n"
        'ABC = "login-revamp"\n'
        "[attribution.repos]\n"
        '"shop-app" = "shop"\n'
        "[attribution.teams]\n"
        'login-revamp = "web"\n'
        'shop = "platform"\n'
    )
    ws = Workspace(lake, config=toml)
    assert ws.attribution_rules().ticket_pattern == r"([A-Z]+)-\d+"
    # the same lake, no re-ingest: the pattern is applied when the views are created
    assert [r[:5] for r in by_branch(ws)] == [
        ("shop-app", FEATURE, "ABC", "USD", 4),
        ("shop-app", "main", "(none)", "USD", 1),
    ]
    # ticket ABC -> workflow login-revamp (team web); main has no ticket: repo shop-app -> shop
    # (team platform). Costs as in test_cost_by_branch_sums_by_hand.
    rows = ws.rows(
        "SELECT workflow, team, count(*), sum(cost) FROM calls_attributed GROUP BY ALL ORDER BY ALL"
    )
    assert rows == [("login-revamp", "web", 4, Decimal("0.073")), ("shop", "platform", 1, Decimal("0.015"))]


def test_branch_map_applies(lake: Lake) -> None:
    rules = AttributionRules.from_config(
        {"attribution": {"branches": {"main": "release"}, "repos": {"shop-app": "shop"}}}
    )
    with Workspace(lake, config={}).connect(rules=rules) as con:
        rows = con.execute(
            "SELECT branch, workflow, count(*) FROM calls_attributed GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    # a branch map wins over the repo map: main -> release; the feature branch has neither a
    # branch nor a ticket map -> the repo map
    assert rows == [(FEATURE, "shop", 4), ("main", "release", 1)]


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("([A-Z]+", "is not a regular expression"),
        ("[A-Z]+-\\d+", "has no capture group"),
        ("", "must be"),
        ("(x)\nSELECT 1", "on one line"),  # a line break would end the SQL literal's line
    ],
)
def test_a_bad_pattern_is_refused(pattern: str, message: str) -> None:
    with pytest.raises(CostlabError, match=message):
        AttributionRules.from_config({"attribution": {"ticket_pattern": pattern}})


def test_a_quote_in_the_pattern_stays_a_literal(lake: Lake) -> None:
    rules = AttributionRules.from_config({"attribution": {"ticket_pattern": "(A'?BC-\\d+)"}})
    with Workspace(lake, config={}).connect(rules=rules) as con:
        assert con.execute("SELECT DISTINCT ticket FROM calls_attributed ORDER BY 1").fetchall() == [
            ("ABC-123",),
            (None,),
        ]


def test_a_lake_written_before_the_columns(lake: Lake) -> None:
    """Spans and stored call_facts written without repo/branch (an older costlab): both the
    full and the fast path read, and calls fill the two from the cwd / git_branch tags."""
    manifest = lake.manifest()
    rewritten = 0
    for table in ("spans", "call_facts"):
        for rel in manifest.tables[table]:
            path = lake.path / rel
            old = pq.read_table(path)
            assert "repo" in old.column_names
            pq.write_table(old.drop_columns(["repo", "branch"]), path)
            rewritten += 1
    assert rewritten >= 2
    ws = Workspace(lake, config={})
    assert ws.rows("SELECT count(*) FROM spans WHERE repo IS NOT NULL OR branch IS NOT NULL") == [(0,)]
    q = "SELECT repo, branch, ticket, count(*), sum(cost) FROM calls_attributed GROUP BY ALL ORDER BY ALL"
    # from the tags: the Codex rows' repo is now the basename of their cwd (the remote URL was
    # not kept); costs as in test_cost_by_branch_sums_by_hand (CC 1 + CC 2 = 0.048, CX = 0.025)
    expected = [
        ("shop-app", FEATURE, "ABC-123", 2, Decimal("0.048")),
        ("shop-app", "main", None, 1, Decimal("0.015")),
        ("shop-app-login", FEATURE, "ABC-123", 2, Decimal("0.025")),
    ]
    assert ws.rows(q) == expected
    for fast in (False, True):
        with ws.connect(fast=fast) as con:
            assert con.execute(q).fetchall() == expected, fast


def _bill_line(cost: str, provider: str, model: str, tokens: str) -> dict[str, str]:
    """A FOCUS token line of 2025-10-21 (the shape of tests/test_learned_prices.py)."""
    return {"BilledCost": cost, "ListCost": cost, "EffectiveCost": cost, "BillingCurrency": "USD",
            "BillingAccountId": "acct-1", "ChargeCategory": "Usage", "ChargeDescription": f"{model} input",
            "ChargeFrequency": "Usage-Based", "ChargePeriodStart": "2025-10-21T00:00:00Z",
            "ChargePeriodEnd": "2025-10-22T00:00:00Z", "BillingPeriodStart": "2025-10-01T00:00:00Z",
            "BillingPeriodEnd": "2025-11-01T00:00:00Z", "ConsumedQuantity": tokens, "ConsumedUnit": "Tokens",
            "ServiceCategory": "AI and Machine Learning", "ServiceName": f"{provider} API", "SkuId": f"{model}-input",
            "SkuMeter": f"{model} input tokens", "SkuPriceDetails": json.dumps({"ModelId": model, "TokenDirection": "Input"}),
            "ServiceProviderName": provider, "HostProviderName": provider}  # fmt: skip


def test_the_bill_by_branch_sums_to_the_invoice(lake: Lake, tmp_path: Path) -> None:
    """The invoice: Anthropic $0.126 for claude-sonnet-4-5 and OpenAI $0.05 for gpt-5-codex (twice
    what the traces price), plus $0.02 of a model no call used (unattributed).

    By hand: the Claude line goes to the Claude Code calls' workflow and splits by their traced
    cost: feature 0.048 of 0.063 -> 0.126 x 0.048 / 0.063 = 0.096, main 0.030; the OpenAI line
    goes whole to the feature branch (only Codex calls used gpt-5-codex): 0.05. Feature 0.146,
    main 0.030, unattributed 0.02: 0.196, the invoice."""
    import csv

    from test_learned_prices import COLS

    bill = tmp_path / "focus.csv"
    with bill.open("w", newline="") as f:
        w = csv.DictWriter(f, COLS)
        w.writeheader()
        w.writerows([
            _bill_line("0.126", "Anthropic", "claude-sonnet-4-5", "40000"),
            _bill_line("0.05", "OpenAI", "gpt-5-codex", "40000"),
            _bill_line("0.02", "OpenAI", "gpt-4o", "8000"),
        ])  # fmt: skip
    res = ingest([bill], lake=lake.path, source="focus")
    assert not res.failed
    ws = Workspace(lake, config={}, since="2025-10-01", until="2025-11-01")

    def rows(token_policy: str) -> list[tuple[Any, ...]]:
        frame = ws.query("bill_by_branch", grain="month", policy="proportional", token_policy=token_policy)
        return [(r["repo"], r["branch"], r["ticket"], r["billed"], r["traced_cost"]) for r in frame.iter_rows(named=True)]

    got = rows("proportional")  # each token line split whole over the calls of its model
    assert got == [
        ("shop-app", FEATURE, "ABC-123", Decimal("0.146"), Decimal("0.073")),
        ("shop-app", "main", "(none)", Decimal("0.030"), Decimal("0.015")),
        ("unattributed", "(none)", "(none)", Decimal("0.02"), None),
    ]
    assert sum(r[3] for r in got) == Decimal("0.196")
    # token policy 'traced': a workflow gets what its calls price, the rest of a line stays
    # unattributed: feature 0.048 + 0.025, main 0.015, unattributed 0.196 - 0.088
    got = rows("traced")
    assert got == [
        ("shop-app", FEATURE, "ABC-123", Decimal("0.073"), Decimal("0.073")),
        ("shop-app", "main", "(none)", Decimal("0.015"), Decimal("0.015")),
        ("unattributed", "(none)", "(none)", Decimal("0.108"), None),
    ]


def _bill(tmp_path: Path, lake: Lake, amount: str) -> None:
    """A FOCUS line of ``amount`` for claude-sonnet-4-5 (October 2025), ingested into ``lake``."""
    from test_learned_prices import write_focus

    bill = write_focus(tmp_path / "focus.csv", [_bill_line(amount, "Anthropic", "claude-sonnet-4-5", "40000")])
    assert not ingest([bill], lake=lake.path, source="focus").failed


def _billed_by_branch(lake: Lake, engine: str) -> dict[str, Decimal]:
    ws = Workspace(lake, config={}, since="2025-10-01", until="2025-11-01", engine=engine)
    frame = ws.query("bill_by_branch", grain="month", policy="proportional", token_policy="proportional")
    return {r["branch"]: r["billed"] for r in frame.iter_rows(named=True)}


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
def test_a_bill_of_eighteen_digits_splits_over_branches_exactly(lake: Lake, tmp_path: Path, engine: str) -> None:
    """One Anthropic line of 135881.925406230138 (18 significant digits, more than a DOUBLE
    holds) for claude-sonnet-4-5: the whole line goes to the Claude Code calls' workflow, then
    splits over its branches by traced cost, feature 0.048 and main 0.015 of 0.063. By hand: main
    gets 135881.925406230138 x 5/21 = 32352.8393824357471..., the feature branch the rest; the
    share is a DOUBLE's 16 digits, the sum is the line to the last of its 12 decimals."""
    if engine == "spark":
        pytest.importorskip("pyspark")
    amount = Decimal("135881.925406230138")
    _bill(tmp_path, lake, str(amount))
    got = _billed_by_branch(lake, engine)
    assert set(got) == {FEATURE, "main"}
    assert abs(got["main"] - amount * 5 / 21) < Decimal("1e-11")  # a DOUBLE's 16 digits of 32352.8...
    assert got[FEATURE] == amount - got["main"]
    assert sum(got.values()) == amount


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
def test_a_bill_past_fourteen_digits_of_product_does_not_overflow(lake: Lake, tmp_path: Path, engine: str) -> None:
    """A $500M line and a branch with $600,000 traced: ``billed * traced_cost`` is 3e14, past
    the 14 integer digits of DECIMAL(38,12) x DECIMAL(38,12) = DECIMAL(38,24), and the report
    failed with "Overflow in multiplication of DECIMAL(38)" (as a $20M bill of a workflow with
    $20M traced would). The ratio is now a DOUBLE of the traced costs alone.

    The third branch: one Claude Code call of 1e11 uncached input tokens (under the 1e12 a call
    may hold), past 200K input tokens so at the long-context $6/MTok: $600,000. By hand, of
    500,000,000: feature 0.048/600000.063 and main 0.015/600000.063 of it (39.9999958... and
    12.4999986...), the load branch the rest."""
    if engine == "spark":
        pytest.importorskip("pyspark")
    log = tmp_path / "logs" / "claude" / "projects" / "-home-dev-src-shop-app" / "load.jsonl"
    log.write_text("".join(json.dumps(x) + "\n" for x in [
        _user(9, "2025-10-23T09:00:00.000Z", "load"),
        _assistant(9, "2025-10-23T09:00:05.000Z", "load", 10**11, 0, 0, 0),
    ]))  # fmt: skip
    assert not ingest([log], lake=lake.path).failed
    _bill(tmp_path, lake, "500000000")
    got = _billed_by_branch(lake, engine)
    total = Decimal("600000.063")
    assert set(got) == {FEATURE, "main", "load"}
    assert abs(got[FEATURE] - 500_000_000 * Decimal("0.048") / total) < Decimal("1e-11")  # 12 decimals
    assert abs(got["main"] - 500_000_000 * Decimal("0.015") / total) < Decimal("1e-11")
    assert got["load"] == 500_000_000 - got[FEATURE] - got["main"]
    assert sum(got.values()) == 500_000_000
