"""A tiny source used only by the lake tests: CSV with toy_id, cost, day[, scope, delivery].

It lets the lake's guarantees (idempotence, replacement, atomicity) be tested independently of
any real export format.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from costlab.ingest import util as u
from costlab.ingest.base import Bad, ParseContext, Row, Sniff, Source
from costlab.ingest.registry import register_source


@register_source
class Toy(Source):
    name = "toy"
    title = "test-only toy CSV"
    tables = ("charges",)
    row_key = "toy_id"
    priority = 100

    @classmethod
    def detect(cls, sniff: Sniff) -> bool:
        return sniff.kind == "csv" and "toy_id" in sniff.column_set

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[Row | Bad]:
        for line, row in u.csv_rows(path):
            if isinstance(row, str):
                yield Bad(str(line), row)
                continue
            try:
                yield "charges", {
                    "billed_cost": u.money(row["cost"]),
                    "billing_currency": row.get("currency") or "USD",
                    "charge_period_start": u.ts(row["day"]),
                    "row_key": u.key(row["toy_id"]),
                    "source_line": line,
                    "replace_scope": u.nullish(row.get("scope")),
                    "delivery": u.nullish(row.get("delivery")),
                    "principal": u.nullish(row.get("user")),
                }
            except ValueError as ex:
                yield Bad(str(line), str(ex), u.raw_text(row))


def write(path: Path, rows: list[tuple[object, ...]], header: str = "toy_id,cost,day") -> Path:
    path.write_text(header + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path
