"""The FinOps Foundation's focus-validator, run on a costlab FOCUS export (opt-in).

`COSTLAB_FOCUS_VALIDATOR` names the ``focus-validator`` executable (it needs Python 3.12; .ci/run
installs it in /tmp/focusval); tests skip when it is unset. `validate` runs it on a file and
reads its console report; which failures are mandatory comes from the validator's own rule model
(``focus_validator/rules/model-<FOCUS version>*.json``), not from the console text:

- a failed rule is mandatory when its keyword is MUST / MUST NOT and it is a leaf check;
- a composite rule ("The X column adheres to the following requirements:", an AND/OR of other
  rules) is left out: it fails exactly when one of its children fails, and the validator ANDs
  SHOULD children into it too (``PricingUnit-C-000-M`` fails when a unit misses the SHOULD-level
  UnitFormat), so counting it would count a child twice or turn a SHOULD into a MUST.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

#: focus-validator 2.2.1 rules that fail on data FOCUS 1.2 allows: the validator's defects, not
#: costlab's, so no test counts them (README "Exporting FOCUS").
VALIDATOR_DEFECTS = {
    "BilledCost-C-005-C": "the model reads ProviderName != InvoiceIssuerName ('AWS' vs 'Amazon Web Services, Inc.') "
    "as a third-party sale; FOCUS names the seller and the invoicing legal entity separately",
    "EffectiveCost-C-005-C": "the model drops 'and the purchase is intended to cover future eligible charges': "
    "every Purchase must have EffectiveCost 0, a recurring RI/SP fee included",
    "InvoiceId-C-005-C": "the model drops 'when the charge is associated with ... an invoice': daily cost "
    "reports before invoicing must have an InvoiceId",
    "ChargeDescription-C-002-M": "the validator demands ASCII; FOCUS StringHandling-A-001: 'valid Unicode strings'",
    "SkuMeter-C-002-M": "the same ASCII demand (Google's \"... (≤200k)\" SKU meter)",
}


@dataclass
class Report:
    """One focus-validator run: every rule it evaluated (id -> PASS/FAIL) and its summary line."""

    results: dict[str, str] = field(default_factory=dict)
    summary: str = ""
    rules: dict[str, Any] = field(default_factory=dict)

    @property
    def checked(self) -> list[str]:
        return sorted(self.results)

    @property
    def failed(self) -> list[str]:
        return sorted(r for r, v in self.results.items() if v == "FAIL")

    def mandatory_failures(self) -> dict[str, str]:
        """{rule id: MustSatisfy} for the failed MUST leaf rules (see the module docstring)."""
        out = {}
        for rule_id in self.failed:
            crit = self.rules.get(rule_id, {}).get("ValidationCriteria", {})
            if str(crit.get("Keyword", "")).startswith("MUST") and not _composite(crit):
                out[rule_id] = str(crit.get("MustSatisfy", ""))
        return out


def _composite(crit: dict[str, Any]) -> bool:
    req = crit.get("Requirement") or {}
    return req.get("CheckFunction") in ("AND", "OR") and all(
        item.get("CheckFunction") == "CheckModelRule" for item in req.get("Items", [])
    )


def executable() -> str:
    """The validator from COSTLAB_FOCUS_VALIDATOR; skips the calling test when unset."""
    exe = os.environ.get("COSTLAB_FOCUS_VALIDATOR")
    if not exe:
        pytest.skip("set COSTLAB_FOCUS_VALIDATOR to a focus-validator executable to run it")
    return exe


@functools.lru_cache
def _site(exe: str) -> Path:
    py = Path(exe).with_name("python")
    out = subprocess.run(
        [str(py), "-c", "import focus_validator, os; print(os.path.dirname(os.path.dirname(focus_validator.__file__)))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    return Path(out)


@functools.lru_cache
def _rules(site: Path, version: str) -> dict[str, Any]:
    (model,) = sorted((site / "focus_validator" / "rules").glob(f"model-{version}*.json"))
    return dict(json.loads(model.read_text(encoding="utf-8"))["ModelRules"])


def validate(path: Path, version: str = "1.2", criteria: tuple[str, ...] = ()) -> Report:
    """Run focus-validator on ``path`` (CSV or Parquet) and parse its console report."""
    exe = executable()
    site = _site(exe)
    cmd = [exe, "--data-file", str(path), "--validate-version", version, "--block-download"]
    if criteria:
        cmd += ["--applicability-criteria", ",".join(criteria)]
    # focus-validator 2.2.1 opens 'focus_validator/rules/currency_codes.csv' relative to the
    # working directory, so it runs from its own site-packages folder.
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=site, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "=== Validation Results ===" in r.stdout, r.stdout[-2000:]
    report = Report(rules=_rules(site, version))
    report.summary = next(line for line in r.stdout.splitlines() if line.startswith("Total: "))
    for m in re.finditer(r"^\S+ (\S+): (PASS|FAIL) ", r.stdout, re.M):
        report.results[m.group(1)] = m.group(2)
    return report
