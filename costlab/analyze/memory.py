"""Whether the caching replay fits the memory this machine has left.

The replay's polars frames live outside DuckDB's ``[analyze] memory_limit``: a month of 10M calls
holds about 10 GiB of them. A replay that cannot fit stops with `ReplayMemoryError` before it
starts instead of the process being killed half-way with no report at all: ``costlab report`` and
``costlab analyze all`` then give the other analyzers' findings and say why caching's are missing.
"""

from __future__ import annotations

from typing import Any

#: Peak memory of the replay's polars frames per call loaded, outside DuckDB's cap: measured
#: 1.0-1.2 KB at 1M and 10M calls (docs/performance.md).
REPLAY_BYTES_PER_CALL = 1200
#: ... and per prefix-block hash of those calls (a row each in the block frame): the peak of
#: `costlab analyze caching` on generated lakes with and without prompts (18 blocks a call) grew
#: by 56 bytes a block at 1M calls and 38 at 3M; the higher is taken (docs/performance.md).
REPLAY_BYTES_PER_BLOCK = 56
MEMINFO = "/proc/meminfo"
CGROUP = "/sys/fs/cgroup"  # cgroup v2: memory.max ("max" or bytes) and memory.current


def available_memory() -> int | None:
    """Bytes this process can still take: Linux's MemAvailable, lowered to what the cgroup v2
    limit leaves (a container, a CI job); None where neither can be read."""
    found = []
    try:
        with open(MEMINFO) as f:
            found += [int(ln.split()[1]) * 1024 for ln in f if ln.startswith("MemAvailable:")]
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open(f"{CGROUP}/memory.max") as f:
            cap = f.read().strip()
        if cap != "max":
            with open(f"{CGROUP}/memory.current") as f:
                found.append(int(cap) - int(f.read().strip()))
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def check_replay(ws: Any, calls: int | None, blocks: int | None = 0) -> None:
    """A replay of ``calls`` with ``blocks`` prefix-block hashes among them (None: unknown, not
    counted) that cannot fit stops with `ReplayMemoryError` (the other analyzers still run)
    instead of the process being killed half-way. The caching analyzer checks before the calls
    are built, from the stored call count (on a lake without one, after, from the calls built)."""
    from costlab.errors import ReplayMemoryError

    need = (calls or 0) * REPLAY_BYTES_PER_CALL + (blocks or 0) * REPLAY_BYTES_PER_BLOCK
    avail = available_memory()
    if avail is not None and need > avail:
        with_blocks = f" and {blocks:,} prefix blocks" if blocks else ""
        raise ReplayMemoryError(
            f"{ws.lake.path}: the caching replay of {calls:,} calls{with_blocks} needs about {need / 2**30:.1f} GiB "
            f"of memory and {avail / 2**30:.1f} GiB is available; choose a shorter --since, or leave "
            "the findings out (costlab report --no-findings)"
        )
