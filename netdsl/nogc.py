"""Pause Python's cyclic garbage collector around allocation-heavy front-end work.

Parsing and elaboration allocate hundreds of thousands of small objects that all stay
alive until the result is returned, and create no reference cycles worth collecting.
With the collector running, CPython keeps re-scanning that growing heap: on a
10,000-layer spec more than half of the parse time went to collection. Reference
counting still frees everything that dies (the approach mypy takes for the same reason).

Switching the collector back on would make its next young-generation pass visit every
object the block allocated (a third of a second for 10,000 layers). Instead, what
survived the block is handed to the oldest generation directly (`gc.freeze()` then
`gc.unfreeze()`, two list splices), where the next full collection will look at it like
any other long-lived data. Nothing is kept from the collector; objects of the caller
are at most promoted early. Skipped when the process has frozen objects of its own
(a pre-fork server), whose freeze must stay as it is."""

from __future__ import annotations

import gc
from contextlib import contextmanager

__all__ = ["paused_gc"]


@contextmanager
def paused_gc():
    """Disable automatic collection inside the block (re-entrant; restores the old state)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()
            gc.enable()
