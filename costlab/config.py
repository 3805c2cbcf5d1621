"""Where things live: the lake path and the optional ``costlab.toml`` settings file.

Lake path precedence: ``--lake DIR`` > ``$COSTLAB_LAKE`` > ``lake = "..."`` in ``costlab.toml``
(current directory, or ``$COSTLAB_CONFIG``) > ``$COSTLAB_HOME/lake`` >
``$XDG_DATA_HOME/costlab/lake`` (default ``~/.local/share/costlab/lake``).

Stdlib only: imported by the CLI before any heavy library.
"""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path
from typing import Any

from costlab.errors import CostlabError

CONFIG_NAME = "costlab.toml"


def config_path() -> Path | None:
    explicit = os.environ.get("COSTLAB_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    local = Path.cwd() / CONFIG_NAME
    return local if local.is_file() else None


_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def file_problem(path: Path) -> str | None:
    """None for a regular file (through symlinks), "directory" for a folder, else why the path
    cannot be read. Nothing is opened: a FIFO would block the read and /dev/zero never ends."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "broken symbolic link" if path.is_symlink() else "no such file or directory"
    except OSError as ex:
        return ex.strerror or str(ex)
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "directory"
    kind = next((name for test, name in _KINDS if test(mode)), "a special file")
    return f"not a regular file ({kind}); nothing was read"


def regular_file(path: Path, what: str) -> Path:
    """``path`` when it is a regular file, else a one-line `CostlabError` naming it and ``what``
    it was meant to be (a settings file, a price override file, ...)."""
    problem = file_problem(path)
    if problem == "no such file or directory":
        raise CostlabError(f"{path}: {what} not found")
    if problem is not None:
        raise CostlabError(f"{path}: cannot read the {what}: {'is a directory' if problem == 'directory' else problem}")
    return path


def load_config(path: Path | None = None) -> dict[str, Any]:
    """The parsed ``costlab.toml`` (empty when there is none)."""
    path = path or config_path()
    if path is None:
        return {}
    try:
        with open(regular_file(path, "config file"), "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as ex:
        raise CostlabError(f"{path}: not valid TOML ({ex})") from None


def default_lake() -> Path:
    home = os.environ.get("COSTLAB_HOME")
    if home:
        return Path(home).expanduser() / "lake"
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "costlab" / "lake"


def resolve_lake(
    path: str | os.PathLike[str] | None = None,
    config_file: Path | None = None,
    settings: dict[str, Any] | None = None,
) -> Path:
    """The lake directory by the precedence in this module's docstring. ``settings``: the parsed
    ``config_file`` when the caller has read it already (`costlab.workspace.Workspace`); else the
    default settings file is read."""
    if path:
        return Path(path).expanduser().absolute()
    env = os.environ.get("COSTLAB_LAKE")
    if env:
        return Path(env).expanduser().absolute()
    if settings is None:
        config_file = config_file or config_path()
        settings = load_config(config_file) if config_file is not None else {}
    if settings.get("lake"):
        base = config_file.parent if config_file is not None else Path.cwd()
        return (base / Path(str(settings["lake"])).expanduser()).absolute()
    return default_lake().absolute()
