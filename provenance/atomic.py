"""Files written whole: a process killed while writing leaves the file as it was (or no file),
never one cut short. Checkpoints, ASC MHL generations and chains, farm plans and shards, and
report pages all go through here.

The bytes go to a hidden temporary file beside the target (`.NAME.XXXX.tmp`, which no reader of
checkpoints, histories or deliveries takes for one of its own), are synced, then put in place in
one step: renamed over the target (`replace`), or hard-linked to a name that must not exist yet
(`write_new`: the same refusal as opening with "x").
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from typing import AnyStr

__all__ = ["replace", "write_new"]


# Shares that do not do hard links say so with one of these: `write_new` then renames, after
# checking that the name is free (a race with another writer of the same name is possible there).
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS})


def write_new(path: os.PathLike[AnyStr] | AnyStr, body: bytes) -> None:
    """Write `body` to `path`, which must not exist: FileExistsError if it does."""
    target = os.fspath(path)
    staged = _staged(target, body)
    try:
        try:
            os.link(staged, target)
        except OSError as exc:
            if isinstance(exc, FileExistsError) or exc.errno not in _NO_HARD_LINKS:
                raise
            if os.path.lexists(target):
                raise FileExistsError(errno.EEXIST, "File exists", os.fsdecode(target)) from None
            os.rename(staged, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(staged)


def replace(path: os.PathLike[AnyStr] | AnyStr, body: bytes) -> None:
    """Write `body` to `path`, in place of what is there."""
    target = os.fspath(path)
    staged = _staged(target, body)
    try:
        os.replace(staged, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(staged)
        raise


def _staged(target: AnyStr, body: bytes) -> AnyStr:
    """`body` in a synced temporary file beside `target`, with the permissions a new file gets."""
    folder, name = os.path.split(target)
    if isinstance(target, bytes):
        handle, temp = tempfile.mkstemp(
            prefix=b"." + name + b".", suffix=b".tmp", dir=folder or b"."
        )
    else:
        handle, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder or ".")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(body)
            stream.flush()
            os.fsync(stream.fileno())
        umask = os.umask(0)  # (mkstemp makes 0600: a new file should get what open() gives)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    return temp
