"""Run one source over one file and collect its rows (used by the lake writer and by tests)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from costlab.errors import SourceError
from costlab.ingest.base import Bad, ParseContext, Source


@dataclass
class Parsed:
    source: str
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    bad: list[Bad] = field(default_factory=list)

    def table(self, name: str) -> list[dict[str, Any]]:
        return self.rows.get(name, [])


def parse_file(path: Path | str, source: str | None = None, ctx: ParseContext | None = None) -> Parsed:
    """Detect (or look up) the source and parse the whole file into memory.

    Raises `SourceError` when the file as a whole cannot be read; row problems land in ``.bad``.
    """
    from costlab.ingest import detect, get_source
    from costlab.ingest.util import line_limit

    path = Path(path)
    ctx = ctx or ParseContext()
    cls: type[Source] = get_source(source) if source else detect(path)
    out = Parsed(cls.name)
    try:
        with line_limit(ctx.limits.max_line_bytes):
            for item in cls().parse(path, ctx):
                if isinstance(item, Bad):
                    out.bad.append(item)
                else:
                    table, row = item
                    out.rows[table].append(row)
    except SourceError:
        raise
    except (OSError, EOFError, UnicodeError, ValueError) as ex:
        raise SourceError(str(path), f"cannot read as {cls.name}: {ex}") from None
    return out
