"""The shared token-line classifier (costlab/ingest/token_lines.py): words, units, and the promise
that no billing source writes a token_type outside docs/schema.md's list plus the two documented
additions (input_image, output_image)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from costlab.ingest.token_lines import (
    ALLOWED_TOKEN_TYPES,
    TOKEN_TYPES,
    cache_write,
    text_kind,
    token_block,
    tokens_of,
    unit_kind,
)
from costlab.workspace import Workspace

ROOT = Path(__file__).parent.parent
FIX = Path(__file__).parent / "fixtures"
#: every billing source's fixtures (and the demo's bills): charges come from these folders only
BILLING = [FIX / d for d in ("focus", "azure", "aws_cur", "gcp", "openai", "anthropic", "oci")]


@pytest.mark.parametrize(
    ("unit", "block"),
    [("Tokens", 1), ("Token", 1), ("1000 Tokens", 1000), ("1K tokens", 1000), ("1M Tokens", 1_000_000),
     ("1 Million Tokens", 1_000_000), ("Million tokens", 1_000_000), ("1,000,000 Tokens", 1_000_000),
     ("Hours", None), ("GB-Months", None), ("Units", None), ("Token-Hours", None), (None, None)],
)  # fmt: skip
def test_token_block(unit: str | None, block: int | None) -> None:
    assert token_block(unit) == (None if block is None else Decimal(block))


@pytest.mark.parametrize(
    ("text", "kind"),
    [("Cache Read Input Tokens", "input_cache_read"), ("Cache Write Input Tokens", "input_cache_write_5m"),
     ("Prompt caching write 1h", "input_cache_write_1h"), ("Uncached Input Tokens", "input_uncached"),
     ("USE1-MP:USE1_CacheWriteInputTokenCount-Units", "input_cache_write_5m"),
     ("Gemini 2.5 Pro Input Text Caching (Long)", "input_cache_read"),
     ("Gemini 2.5 Flash Text Output (Thinking On) - Batch Predictions", "output"),
     ("Reasoning Tokens", "reasoning"), ("Realtime Audio Output Tokens", "output_audio"),
     ("Context Cache Storage", "storage"), ("Search Queries", None), ("Data Transfer In", None),
     # Anthropic cost report values and Vertex Claude SKU names read the same way
     ("cache_creation.ephemeral_1h_input_tokens", "input_cache_write_1h"),
     ("cache_creation.ephemeral_5m_input_tokens", "input_cache_write_5m"),
     ("Claude Sonnet 4.5 1h Cache Write Input Tokens", "input_cache_write_1h"),
     ("Claude Sonnet 4.5 Cache Input Tokens", "input_cache_read"),
     # "generation" is output only next to tokens: Imagen bills images
     ("Generated Tokens", "output"), ("Imagen 3 Generation", None)],
)  # fmt: skip
def test_token_class_from_text(text: str, kind: str | None) -> None:
    assert text_kind(text) == kind


def test_cache_write_ttl() -> None:
    # a TTL the line does not state is the 5-minute write, the class genai-prices' TTL-less
    # cache_write price is filed under (costlab.pricing); 1 hour only when stated
    assert cache_write("Cd Wr Inp Gl") == "input_cache_write_5m"
    assert [cache_write(t) for t in ("-1-hour", "1h", "60 min", "3600s")] == [
        "input_cache_write_1h"
    ] * 4


@pytest.mark.parametrize(
    ("unit", "kind"),
    [("1,000,000 Tokens", "tokens"), ("Token-Hours", "token_time"), ("1000000 Token-Hours", "token_time"),
     ("count", "count"), ("Units", "count"), ("1K Characters", "other"), ("Hours", "other"), (None, None)],
)  # fmt: skip
def test_unit_kind(unit: str | None, kind: str | None) -> None:
    assert unit_kind(unit) == kind


def test_tokens_round_half_even() -> None:
    # 12.5 x 1K = 12,500 exactly; 0.0125 x 1,000 = 12.5 -> 12 (half-even); unknown stays unknown
    assert tokens_of(Decimal("12.5"), Decimal(1000)) == 12_500
    assert tokens_of(Decimal("0.0125"), 1000) == 12
    assert tokens_of(Decimal("0.0135"), 1000) == 14
    assert tokens_of(None, 1000) is None and tokens_of(Decimal(1), None) is None


def test_allowed_set_is_the_schema_list_plus_images() -> None:
    assert len(TOKEN_TYPES) == 9
    assert ALLOWED_TOKEN_TYPES - set(TOKEN_TYPES) == {"input_image", "output_image"}


def test_no_billing_source_writes_another_token_type(tmp_path: Path) -> None:
    """Every billing fixture (FOCUS, Azure, AWS CUR, GCP, OpenAI, Anthropic, OCI) and the demo's
    bills through one lake: `select distinct token_type from charges` holds only allowed values.
    On main it held "input_cache_write" (Azure "Cd Wr", OpenAI "cache writes")."""
    from costlab.ingest import run as pipeline

    lake = tmp_path / "lake"
    res = pipeline.ingest([*BILLING, ROOT / "sample_data" / "demo" / "billing"], lake=lake)
    assert res.rows_written > 3000
    rows = Workspace(lake).rows(
        "select source_format, token_type, count(*) from charges group by all order by all"
    )
    sources = {s for s, _, _ in rows}
    assert {"focus", "azure_cost", "aws_cur", "aws_cur2", "gcp_billing", "openai_costs",
            "anthropic_cost", "oci_cost_report"} <= sources  # fmt: skip
    written = {t for _, t, _ in rows if t is not None}
    assert written <= ALLOWED_TOKEN_TYPES, written - ALLOWED_TOKEN_TYPES
    # the TTL-less writes main typed "input_cache_write" are the 5-minute class in every source
    writes = {(s, t) for s, t, _ in rows if t and t.startswith("input_cache_write")}
    assert {("azure_cost", "input_cache_write_5m"), ("openai_costs", "input_cache_write_5m"),
            ("focus", "input_cache_write_5m"), ("gcp_billing", "input_cache_write_5m"),
            ("gcp_billing", "input_cache_write_1h"), ("aws_cur", "input_cache_write_1h")} <= writes  # fmt: skip
