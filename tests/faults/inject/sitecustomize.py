"""Fault injection for the CLI subprocesses of the fault suite (on their PYTHONPATH only): nothing of it
is in the pipeline's code. ``FAULT_FSYNC_MATCH=<part of a path>`` makes fsync of a matching file hang
(``FAULT_FSYNC_ACTION=hang``, the default: the case then kills the process mid-write, its temporary file
written and not yet renamed) or fail with an errno (``FAULT_FSYNC_ACTION=ENOSPC``, ``EIO``...)."""

import errno
import os
import time

_MATCH = os.environ.get("FAULT_FSYNC_MATCH")

if _MATCH:
    _fsync = os.fsync
    _ACTION = os.environ.get("FAULT_FSYNC_ACTION", "hang")

    def fsync(fd: int) -> None:
        try:
            path = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            path = ""
        if _MATCH in path:
            if _ACTION == "hang":
                time.sleep(3600)
            else:
                code = getattr(errno, _ACTION)
                raise OSError(code, os.strerror(code), path)
        _fsync(fd)

    os.fsync = fsync

# ``FAULT_LOCK_WAIT=<seconds>``: how long a step waits for another's lock (warehouse.LOCK_WAIT_SECONDS,
# 600 s in production), so that a case can see the bounded wait end without waiting ten minutes.
if os.environ.get("FAULT_LOCK_WAIT"):
    import starlink42k.warehouse

    starlink42k.warehouse.LOCK_WAIT_SECONDS = float(os.environ["FAULT_LOCK_WAIT"])
