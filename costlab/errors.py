"""Errors shown to the user as one line, without a traceback (exit code 1)."""

from __future__ import annotations


class CostlabError(Exception):
    """Base for errors the CLI prints as ``Error: <message>`` and exits 1."""


class SourceError(CostlabError):
    """A whole file cannot be read as the source it claims to be; nothing from it is written."""

    def __init__(self, path: str, problem: str) -> None:
        self.path, self.problem = path, problem
        super().__init__(f"{path}: {problem}")


class UnknownFormatError(SourceError):
    """No registered source recognises the file."""


class EmptyFileError(UnknownFormatError):
    """The file holds nothing to read (0 bytes, or only whitespace): ingest warns and skips it."""

    def __init__(self, path: str) -> None:
        super().__init__(path, "empty file, nothing to ingest")


class UsageError(CostlabError):
    """A command-line value that cannot be used (an unreadable or impossible date): exit code 2."""


class AnalyzerMemoryError(CostlabError):
    """The analyzers need more memory for a period than ``[analyze] memory_limit`` allows: a
    report still renders, without findings, and says so (``Report.findings_note``)."""


class ReplayMemoryError(AnalyzerMemoryError):
    """The caching replay alone cannot fit in the memory left (`costlab.analyze.memory`): when
    several analyzers run, caching is skipped and says why (``summary["skipped"]``) and the
    others, which fit under DuckDB's cap, still give their findings."""


class LakeLockedError(CostlabError):
    """Another ingest holds the lake's write lock."""


class ReadOnlyError(CostlabError):
    """`costlab sql` was given a statement that writes, attaches or copies."""


class LakeNotFoundError(CostlabError):
    """A reading command named a lake that does not exist (a typo must not report all-clear)."""


class NotALakeError(CostlabError):
    """The lake path is a file, or a folder holding files that are not a costlab lake."""


class LakeDamagedError(CostlabError):
    """The lake's manifest is missing or unreadable, or a live data file is missing or damaged.
    Nothing was changed; `costlab lake check` / `costlab lake repair` help. ``problem``: what is
    wrong, without the advice."""

    def __init__(self, message: str, problem: str | None = None) -> None:
        super().__init__(message)
        self.problem = problem or message


class LakeFormatError(LakeDamagedError):
    """The lake was written by a newer costlab (its manifest format is unknown here)."""


class NotKnownError(CostlabError):
    """A name that is not in its list (a source, a query); the message lists the known ones."""

    what = "names"

    def __init__(self, name: str, known: list[str]) -> None:
        self.name, self.known = name, known
        super().__init__(f"{self.describe(name)}; known {self.what}: {', '.join(known)}")

    def describe(self, name: str) -> str:
        return f"unknown {self.what[:-1]} {name!r}"


class UnknownSourceError(NotKnownError):
    what = "sources"


class QueryNotFoundError(NotKnownError):
    what = "queries"

    def describe(self, name: str) -> str:
        return f"no query named {name!r}"
