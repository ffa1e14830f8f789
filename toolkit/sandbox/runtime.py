"""How long a sandbox job runs: a fixed part, a part per item and a seeded jitter, times a scale.

Connect runs imports one after the other from a queue, and a job's run time grows with its items.
The sandbox's worker (:mod:`toolkit.sandbox.worker`) takes the run time of each job from
:class:`RunTimeModel`; with ``scale`` 0 (the default) jobs take no time, so tests stay fast. At scale 1
a job takes about as long as a small Connect import (10 s plus 10 ms an item); the demo uses a small
scale so its lead and run times are seconds, not zero. The jitter is drawn per job id from ``seed``,
so a run is repeatable whatever order the jobs were polled in.

Examples
--------
>>> RunTimeModel().seconds(1, items=500)
0.0
>>> model = RunTimeModel(scale=0.1, jitter=0.0)
>>> model.seconds(1, items=500)
1.5
>>> seeded = RunTimeModel(scale=0.1, seed=3)
>>> seeded.seconds(7, items=500) == RunTimeModel(scale=0.1, seed=3).seconds(7, items=500)
True
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["VALIDATING_SHARE", "RunTimeModel"]

VALIDATING_SHARE = 0.2  # the share of a job's run time spent Validating; the rest is Initialized


@dataclass(frozen=True)
class RunTimeModel:
    """A job's run time in seconds: ``scale * (base + per_item * items) * (1 ± jitter)``."""

    scale: float = 0.0
    base: float = 10.0
    per_item: float = 0.01
    jitter: float = 0.25
    seed: int = 0

    def seconds(self, job_id: int, *, items: int) -> float:
        """The run time of job ``job_id`` with ``items`` items (the same for the same seed and job).

        Examples
        --------
        >>> RunTimeModel(scale=1.0, base=1.0, per_item=0.0, jitter=0.5).seconds(2, items=0) <= 1.5
        True
        """
        if self.scale <= 0:
            return 0.0
        draw = random.Random(f"{self.seed}:{job_id}").uniform(-1.0, 1.0)
        return round(self.scale * (self.base + self.per_item * items) * (1 + self.jitter * draw), 3)
