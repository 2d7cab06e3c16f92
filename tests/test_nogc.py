"""The collector pause around the front end (netdsl/nogc.py) changes no behaviour that a
caller can see: the collector's state comes back, cyclic garbage is still collected, and
a process's own frozen objects stay frozen."""

from __future__ import annotations

import gc

import netdsl
from netdsl.nogc import paused_gc

SPEC = "network N() {\n    input [3, 8, 8]\n    conv(8, 3) -> relu\n}\n"


class _Cycle:
    def __init__(self):
        self.me = self


def test_collector_state_is_restored_and_nests():
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # a caller who disabled it keeps it disabled
    finally:
        gc.enable()


def test_cyclic_garbage_made_before_and_during_analysis_is_still_collected():
    gc.collect()
    _Cycle()  # garbage now, found only by the collector
    with paused_gc():
        _Cycle()
    netdsl.analyze(SPEC)
    assert gc.collect() >= 2


def test_objects_the_process_froze_stay_frozen():
    gc.collect()
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        netdsl.analyze(SPEC)
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
