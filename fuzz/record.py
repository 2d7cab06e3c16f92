"""Counting executions and keeping every input that broke a promise (fuzz/out/)."""

from __future__ import annotations

import hashlib
import json
import os
import time
import traceback
from collections import Counter
from pathlib import Path

from harness import Finding, exercise

__all__ = ["Recorder"]


class Recorder:
    """Runs inputs through the harness; writes stats every `every` executions."""

    def __init__(self, out: Path, engine: str, every: int = 2000):
        self.out, self.engine, self.every = out, engine, every
        self.outcomes: Counter[str] = Counter()
        self.findings: dict[str, str] = {}
        self.started = time.time()
        (out / "findings").mkdir(parents=True, exist_ok=True)
        self.stats = out / f"stats-{engine}-{os.getpid()}.json"

    def __call__(self, data: bytes) -> None:
        try:
            self.outcomes[exercise(data)] += 1
        except Finding as err:
            self.outcomes["finding"] += 1
            self.keep(data, err)
        if sum(self.outcomes.values()) % self.every == 0:
            self.save()

    def keep(self, data: bytes, err: Finding) -> None:
        digest = hashlib.sha1(data).hexdigest()[:16]
        where = traceback.extract_tb(err.__cause__.__traceback__)[-1] if err.__cause__ else None
        key = f"{str(err).splitlines()[0][:80]} @ {where.filename}:{where.lineno}" if where else str(err)[:120]
        if key not in self.findings:
            self.findings[key] = digest
            (self.out / "findings" / f"{digest}.bin").write_bytes(data)
            detail = "".join(traceback.format_exception(err.__cause__ or err))
            (self.out / "findings" / f"{digest}.txt").write_text(f"{key}\n\n{detail}", encoding="utf-8")
        self.save()

    def save(self) -> None:
        doc = {"engine": self.engine, "executions": sum(self.outcomes.values()), "outcomes": dict(self.outcomes),
               "seconds": round(time.time() - self.started, 1), "findings": self.findings}
        tmp = self.stats.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
        os.replace(tmp, self.stats)
