"""The bill's learned rates kept in the manifest by ingest (costlab/learned_rates.py): the rows a
reader takes from it are the query's own, they are what prices the bill-only models, and a
change of charges or of the SQL is never read stale.

Lake: the demo (sample_data), whose FOCUS and OpenAI bills name models no catalogue prices."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from costlab import learned_rates
from costlab.lake import MANIFEST, Lake
from costlab.workspace import Workspace


@pytest.fixture
def lake(demo_lake: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "lake"
    shutil.copytree(demo_lake, copy)
    return copy


def _live(lake: Path) -> list[tuple[object, ...]]:
    """The query over the lake's charges, as a reader without the stored rows runs it."""
    with Workspace(lake, config={}).connect() as con:
        return learned_rates.query(con)


def _house_prices(lake: Path) -> list[tuple[object, ...]]:
    with Workspace(lake, config={}).connect() as con:
        return con.execute(
            "SELECT provider, model, price_type, unit_price, source FROM prices "
            "WHERE source LIKE 'billed rate%' ORDER BY ALL"
        ).fetchall()


def test_ingest_keeps_the_querys_rows(lake: Path) -> None:
    manifest = Lake(lake).manifest()
    rows = learned_rates.stored(manifest)
    assert rows is not None and len(rows) > 0
    assert rows == _live(lake)  # the same values and types: Decimal, int, date
    assert manifest.learned_rates["key"] == learned_rates.key(manifest)


def test_a_reader_prices_from_the_stored_rows(lake: Path) -> None:
    """Halve every stored billed amount (the key kept): the bill-only models' prices halve, so
    readers use the stored rows; with the key broken they are ignored and the query decides."""
    before = _house_prices(lake)
    assert before, "the demo's bill prices models no catalogue knows"
    path = lake / MANIFEST
    data = json.loads(path.read_text())
    for row in data["learned_rates"]["rows"]:
        row[6] = format(Decimal(row[6]) / 2, "f")
    path.write_text(json.dumps(data))
    halved = _house_prices(lake)
    assert [r[:3] for r in halved] == [r[:3] for r in before]
    assert [r[3] for r in halved] == [(r[3] / 2).quantize(Decimal(1).scaleb(-18)) for r in before]
    data["learned_rates"]["key"] = "another costlab"
    path.write_text(json.dumps(data))
    assert _house_prices(lake) == before


def test_new_charges_give_new_rows(lake: Path, tmp_path: Path) -> None:
    """The demo's CUR export again as a second billing period, two months on: new charges files,
    a new key, and the stored rows again equal to the query's."""
    from costlab.ingest.run import ingest

    old = Lake(lake).manifest().learned_rates
    (cur,) = (Path(__file__).resolve().parent.parent / "sample_data" / "demo" / "billing" / "aws").rglob("*.csv")
    later = tmp_path / "cur2" / "BILLING_PERIOD=2026-12" / "northwind-cur2-00001.csv"
    later.parent.mkdir(parents=True)
    later.write_text(cur.read_text().replace("2026-10-", "2026-12-").replace("2026-11-01", "2027-01-01"))
    ingest([tmp_path / "cur2"], lake=lake)
    manifest = Lake(lake).manifest()
    assert len(manifest.tables["charges"]) > 0 and manifest.learned_rates["key"] != old["key"]
    rows = learned_rates.stored(manifest)
    assert rows is not None and rows == _live(lake)
