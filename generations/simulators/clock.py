"""The simulators' clock: when jobs move on, files become ready and signed URLs die.

Real time by default. Tests hold it still (`freeze`) and move it on (`advance`) instead of
sleeping, so nothing they watch races a loaded machine; `reset` gives real time back.
"""

from __future__ import annotations

import time as _time
from datetime import UTC, datetime


class SimClock:
    def __init__(self) -> None:
        self._frozen_at: float | None = None
        self._offset = 0.0

    def time(self) -> float:
        """Seconds since the epoch, as the simulators see them."""
        base = _time.time() if self._frozen_at is None else self._frozen_at
        return base + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), tz=UTC)

    def freeze(self) -> None:
        """Stop the simulators' time where it is now; only `advance` moves it."""
        self._frozen_at = self.time()
        self._offset = 0.0

    def advance(self, seconds: float) -> None:
        self._offset += seconds

    def reset(self) -> None:
        self._frozen_at = None
        self._offset = 0.0


clock = SimClock()
