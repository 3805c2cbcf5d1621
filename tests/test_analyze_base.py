"""Savings combine on the remaining cost, never as a plain sum (costlab.analyze.base)."""

from __future__ import annotations

from decimal import Decimal

from costlab.analyze.base import Finding, Savings, combine


def _f(analyzer: str, step: str | None, base: str, lo: float, hi: float, validated: bool = True) -> Finding:
    return Finding(
        analyzer=analyzer, workflow="wf", step=step, title="t", action="a", evidence={},
        monthly_savings_usd=Savings(Decimal(0), Decimal(0)), confidence="medium", validated=validated,
        base_monthly_cost_usd=Decimal(base), fraction_low=lo, fraction_high=hi,
    )


def test_step_findings_apply_to_what_earlier_ones_left() -> None:
    # step A costs $100: caching removes 50-60%, then trimming 20-30% of what is left
    #   low  = 100 x (1 - 0.5 x 0.8) = 60;  high = 100 x (1 - 0.4 x 0.7) = 72  (a plain sum: 70-90)
    found = [_f("trimming", "A", "100", 0.2, 0.3), _f("caching", "A", "100", 0.5, 0.6)]
    assert combine(found) == Savings(Decimal("60.00"), Decimal("72.00"))


def test_workflow_finding_applies_after_step_findings_and_unvalidated_never_counts() -> None:
    # the workflow costs $300; step A saves 60-72 (above); batch halves what remains:
    #   low  = 60 + (300 - 60) x 0.5 = 180;  high = 72 + (300 - 72) x 0.5 = 186
    found = [
        _f("caching", "A", "100", 0.5, 0.6),
        _f("trimming", "A", "100", 0.2, 0.3),
        _f("batch", None, "300", 0.5, 0.5),
        _f("downgrade", "B", "200", 0.9, 0.9, validated=False),  # potential only
    ]
    assert combine(found) == Savings(Decimal("180.00"), Decimal("186.00"))


def test_total_never_exceeds_the_cost() -> None:
    found = [_f(a, "A", "50", 1.0, 1.0) for a in ("caching", "trimming", "downgrade", "batch")]
    assert combine(found) == Savings(Decimal("50.00"), Decimal("50.00"))
