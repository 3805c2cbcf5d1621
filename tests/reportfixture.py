"""A constructed Report for the renderer tests: every section key of the report contract
(costlab/report/model.py and the lead's brief), two currencies, an alert, a finding, unknown
(None) values, and hostile names (HTML, Markdown and rich markup) that must stay inert text.

Numbers are chosen so the rendered text can be checked by hand (see tests/test_reporting_render.py).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

from costlab.analyze.base import Finding, Savings
from costlab.money.alerts import Alert
from costlab.report.model import Headline, Report, Section, rank_findings

XSS_WORKFLOW = "<script>alert(1)</script>"
XSS_STEP = '"><img src=x onerror=alert(2)>'
PWN_WORKFLOW = "<script>window.__pwned=1</script>"
PWN_MODEL = '<img src=x onerror="window.__pwned=2">'
MARKUP_TEAM = "[red]ops[/red]"

UTC_DAY = datetime(2026, 10, 1, tzinfo=UTC)


def sections() -> list[Section]:
    users = [(f"user{i:02d}@example.com", "USD", 10 * i, D(i) + D("0.5")) for i in range(1, 26)]
    return [
        Section(
            "spend_by_day",
            "Billed money by day",
            ["day", "provider", "currency", "billed_cost", "effective_cost"],
            [
                (date(2026, 10, 1), "openai", "USD", D("100.5"), D("100.5")),
                (date(2026, 10, 1), "anthropic", "USD", D("50.25"), D("50.25")),
                (date(2026, 10, 2), "openai", "USD", D("120"), D("118.000000000001")),
                (date(2026, 10, 2), "azure", "EUR", D("30"), None),
            ],
            "From the billing exports (charges).",
        ),
        Section(
            "traced_by_day",
            "Traced call cost by day",
            ["day", "currency", "cost", "calls", "unpriced_calls"],
            [
                (date(2026, 10, 1), "USD", D("140.123456789012"), 5000, 0),
                (date(2026, 10, 2), "USD", D("110"), 4000, 0),
                (date(2026, 10, 2), "EUR", D("45.6"), 320, 0),
                (date(2026, 10, 2), None, None, 7, 7),
            ],
        ),
        Section(
            "cost_by_workflow",
            "Cost by workflow",
            ["workflow", "team", "currency", "runs", "calls", "input_tokens", "output_tokens", "cost",
             "unpriced_calls", "cost_per_run", "cost_per_call"],
            [
                ("support-chat", "cx", "USD", 1200, 9000, 12345678, 987654, D("600.5"), 3,
                 D("0.500416666667"), D("0.066722222222")),
                (PWN_WORKFLOW, "ops|infra", "USD", 4, 40, 4000, 400, D("12.34"), 0, D("3.085"), D("0.3085")),
                (XSS_WORKFLOW, None, "USD", 10, 200, 1000, 500, D("0.0042"), 0, D("0.00042"), D("0.000021")),
                ("rag `search`", "cx", "EUR", 5, 320, 64000, 3200, D("45.6"), 0, D("9.12"), D("0.1425")),
                ("(none)", None, "USD", None, 7, 1000, 200, None, 7, None, None),
            ],
        ),
        Section(
            "cost_by_step",
            "Cost by workflow step and model",
            ["workflow", "step", "model", "currency", "calls", "cost"],
            [
                ("support-chat", "answer\nwith newline", "claude-sonnet-4-5", "USD", 9000, D("600.5")),
                (XSS_WORKFLOW, XSS_STEP, "gpt-4o-mini", "USD", 200, D("0.0042")),
            ],
        ),
        Section(
            "cost_by_model",
            "Cost by model",
            ["provider", "model", "currency", "calls", "input_tokens", "output_tokens", "cost", "unpriced_calls"],
            [
                ("anthropic", "claude-sonnet-4-5", "USD", 9000, 12345678, 987654, D("600.5"), 0),
                ("openai", "gpt-4o-mini", "USD", 240, 5000, 900, D("12.3442"), 0),
                ("azure", PWN_MODEL, "EUR", 320, 64000, 3200, D("45.6"), 0),
                ("openai", "ft:custom", "USD", 7, 1000, 200, None, 7),
            ],
        ),
        Section(
            "cost_by_team",
            "Cost by team",
            ["team", "currency", "calls", "cost"],
            [("cx", "USD", 9000, D("600.5")), (MARKUP_TEAM, "USD", 40, D("12.34")), (None, "USD", 207, D("0.0042"))],
        ),
        Section("cost_by_user", "Cost by user", ["user", "currency", "calls", "cost"], users),
        Section(
            "top_movers",
            "Top movers",
            ["workflow", "currency", "previous", "current", "change", "change_pct"],
            [
                ("support-chat", "USD", D("250"), D("350.5"), D("100.5"), D("40.2")),
                ("rag `search`", "EUR", D("30"), D("15.6"), D("-14.4"), D("-48.0")),
                (XSS_WORKFLOW, "USD", D("0"), D("0.0042"), D("0.0042"), None),
            ],
            "Traced cost in the last 7 days (2026-10-25 to 2026-10-31) against the 7 days before.",
        ),
        Section(
            "allocation",
            "Allocation of the bill to workflows",
            ["period", "currency", "workflow", "compute_kind", "basis", "amount"],
            [
                ("2026-10", "USD", "support-chat", "tokens", "traced", D("1000.25")),
                ("2026-10", "USD", "unattributed", "tokens", "none", D("234.25")),
            ],
        ),
        Section(
            "allocation_check",
            "Conservation: attributed + unattributed = billed",
            ["period", "currency", "billed", "attributed", "unattributed"],
            [("2026-10", "USD", D("1234.5"), D("1000.25"), D("234.25"))],
        ),
        Section(
            "unit_costs",
            "Unit costs",
            ["metric", "workflow", "currency", "units", "cost", "cost_per_unit", "unpriced_calls"],
            [
                ("tickets_resolved", "support-chat", "USD", D("1500"), D("600.5"), D("0.400333"), 3),
                ("(per run)", "support-chat", "USD", D("1200"), D("600.5"), D("0.500417"), 3),
            ],
        ),
        Section(
            "reconciliation",
            "Reconciliation: bill vs provider usage vs traces",
            ["provider", "model", "currency", "billed", "usage_priced", "traced", "coverage", "gap"],
            [
                ("openai", "gpt-4o-mini", "USD", D("800"), D("790.5"), D("700.1"), D("0.8751"), D("99.9")),
                ("anthropic", "claude-sonnet-4-5", "USD", D("434.5"), None, D("112.02"), D("0.2578"), D("322.48")),
                ("azure", "gpt-4o", "EUR", None, None, D("45.6"), None, None),
            ],
            "coverage = traced / billed: the share of the bill the traces explain.",
        ),
        Section(
            "unpriced",
            "Unpriced calls (not in any total)",
            ["provider", "model", "reason", "calls", "input_tokens", "output_tokens", "first_seen", "last_seen"],
            [("openai", "ft:custom", "no price", 7, 1000, 200,
              datetime(2026, 10, 2, 9, 30, tzinfo=UTC), datetime(2026, 10, 2, 17, 5, 12, tzinfo=UTC))],
        ),
        Section("custom_extra", "An unknown section | rendered generically", ["name", "ratio", "flag"],
                [("a|b", 1.5, True), ("c", None, False)]),
        Section("cost_by_empty", "Nothing here", ["workflow", "cost"], []),
    ]


def finding() -> Finding:
    return Finding(
        analyzer="caching",
        workflow="support-chat",
        step="answer",
        title="Repeated 2,400-token system prompt prefix in `answer`",
        action="Enable prompt caching on the system prompt <prefix>",
        evidence={"calls": 9000, "prefix_tokens": 2400, "hit_rate": 0.62},
        monthly_savings_usd=Savings(D("120.00"), D("180.00")),
        confidence="high",
        validated=True,
        base_monthly_cost_usd=D("600.5"),
        fraction_low=0.2,
        fraction_high=0.3,
    )


def build() -> Report:
    return Report(
        lake="/data/costlab",
        generated_at=datetime(2026, 11, 1, 2, 15, 0, tzinfo=UTC),
        since=UTC_DAY,
        until=datetime(2026, 11, 1, tzinfo=UTC),
        headline=[
            Headline("EUR", None, None, None, D("45.6"), 320, 0, None),
            Headline("USD", D("1234.5"), D("1000.25"), D("234.25"), D("250.123456789012"), 9000, 7, D("0.6579")),
        ],
        sections=sections(),
        alerts=[
            Alert("budget", "total", None, "2026-10", "USD", D("1234.5"), D("1000"), None,
                  "budget exceeded: total spent 1,234.50 USD in 2026-10 against a budget of 1,000.00 USD"),
        ],
        findings=[finding().to_dict()],
        options={"allocation_policy": "proportional", "budgets": [{"scope": "total", "limit": D("1000")}]},
        version="0.1.0",
    )


def build_parts() -> Report:
    """build() plus a section in every part (the shapes the report builder gives them), the
    change against the previous month, and three findings in ranked order."""
    report = build()
    day0 = date(2026, 9, 24)
    trend = [
        # 7 context days before the period (muted), then the period's first 14 days
        (day0 + timedelta(days=i), "USD", D(30 + i), D(20 + i) if i % 5 else None, day0 + timedelta(days=i) >= date(2026, 10, 1))
        for i in range(21)
    ]
    report.sections[:0] = [
        Section(
            "bill_by_workflow",
            "The whole bill by workflow",
            ["workflow", "team", "currency", "billed", "share", "traced_cost"],
            [
                ("support-chat", "cx", "USD", D("1000.25"), D("0.8102"), D("250.123456789012")),
                ("unattributed", None, "USD", D("234.25"), D("0.1898"), None),
                *[(f"batch-job-{i:02d}-with-a-rather-long-name", "data", "EUR", D(20 - i), D("0.07"), None)
                  for i in range(14)],
            ],
            part="bill",
        ),
        Section(
            "bill_by_team",
            "The whole bill by team",
            ["team", "currency", "workflows", "billed", "share", "traced_cost"],
            [("cx", "USD", 1, D("1000.25"), D("0.8102"), D("250.123456789012")),
             ("unattributed", "USD", 1, D("234.25"), D("0.1898"), None)],
            part="bill",
        ),
        Section("daily_trend", "Billed and traced by day", ["day", "currency", "billed", "traced", "in_period"],
                trend, "The 7 days before 2026-10-01 are context.", part="trends"),
        Section(
            "gap_causes",
            "Why billed and traced differ",
            ["cause", "currency", "amount", "share"],
            [("untraced workflows", "USD", D("600.1"), D("0.61")), ("non-token charges", "USD", D("384.28"), D("0.39"))],
            part="gap",
        ),
    ]
    usd = report.headline[1]
    # 1234.50 billed against 1154.50 in 2026-09: +80.00, 80 / 1154.50 = 6.93% -> 6.9%
    usd.previous_billed, usd.change, usd.change_pct = D("1154.5"), D("80"), D("6.9")
    report.previous_since, report.previous_until = datetime(2026, 9, 1, tzinfo=UTC), UTC_DAY
    potential = Finding(
        analyzer="downgrade", workflow="rag-search", step="rerank", title="A smaller model answers as well",
        action="Route rerank to gpt-4o-mini", evidence={"model": "gpt-4o", "calls": 300},
        monthly_savings_usd=Savings(D(0), D(0)), confidence="low", validated=False,
        potential_savings_usd=Savings(D("400"), D("900")),
    )
    small = Finding(
        analyzer="trimming", workflow="support-chat", step="answer", title="Unused context", action="Trim the history",
        evidence={"calls": 9000}, monthly_savings_usd=Savings(D("10"), D("20")), confidence="medium", validated=True,
    )
    report.findings = rank_findings([potential.to_dict(), small.to_dict(), *report.findings])
    return report
