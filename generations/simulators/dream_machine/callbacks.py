"""Callbacks: the simulated Dream Machine POSTs a job to its `callback_url` when it starts
dreaming and when it completes or fails, as Luma does.

Each process keeps a timetable of due callbacks, sent by SENDERS threads. A callback answered
with anything but 200 (or not at all within CALLBACK_TIMEOUT) is tried again, up to
CALLBACK_RETRIES more times. Only URLs `guard.may_call` allows are ever called. The clock and
the wait are injectable.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from django.conf import settings
from django.db import close_old_connections, connection

from generations import providers
from generations.simulators import guard
from generations.simulators.models import DreamGeneration

logger = logging.getLogger(__name__)

CALLBACK_TIMEOUT = 5.0
# Callbacks sent at once (each sender takes the next one due): one slow answer or a job's slow
# first view does not make all the others late. Two, not more: in demo mode the simulator
# answers on the studio's own server, whose hook asks the simulator about the job while the
# callback waits, so each callback in flight holds two of its threads (`make run`: 8).
SENDERS = 2
CALLBACK_RETRIES = 3
# Seconds between tries at LUMA_SIM_SPEED=1.
RETRY_DELAY = 2.0


@dataclass(order=True)
class Due:
    at: float
    order: int
    generation_id: str = field(compare=False)
    state: str = field(compare=False)  # "dreaming", or "final" for completed/failed
    url: str = field(compare=False)
    base_url: str = field(compare=False)
    attempt: int = field(compare=False, default=0)


class Dispatcher:
    """The timetable of callbacks and the thread that sends them."""

    def __init__(self, clock: Callable[[], float] = time.time, *, autostart: bool = True) -> None:
        self.clock = clock
        # Without its thread, callbacks wait in the timetable until `take_due` hands them out.
        self.autostart = autostart
        self._due: list[Due] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._senders: list[threading.Thread] = []

    def schedule(self, gen: DreamGeneration, url: str, base_url: str) -> None:
        """Plan a job's callbacks (a stuck job only ever starts dreaming)."""
        if not guard.may_call(url):
            return
        gid = str(gen.id)
        self._push(Due(gen.dreaming_at.timestamp(), 0, gid, "dreaming", url, base_url))
        if gen.outcome != "stuck":
            self._push(Due(gen.finishes_at.timestamp(), 0, gid, "final", url, base_url))

    def _push(self, due: Due) -> None:
        due.order = next(self._order)
        with self._wake:
            heapq.heappush(self._due, due)
            self._senders = [sender for sender in self._senders if sender.is_alive()]
            if self.autostart and len(self._senders) < SENDERS:
                sender = threading.Thread(target=self._run, name="dream-machine-callbacks")
                sender.daemon = True
                sender.start()
                self._senders.append(sender)
            self._wake.notify()

    def pending(self) -> int:
        """How many callbacks wait in the timetable."""
        with self._wake:
            return len(self._due)

    def take_due(self) -> list[Due]:
        """Every callback due by the clock, taken off the timetable, soonest first."""
        with self._wake:
            due = []
            while self._due and self._due[0].at <= self.clock():
                due.append(heapq.heappop(self._due))
            return due

    def _next(self) -> Due:
        with self._wake:
            while True:
                if self._due:
                    wait = self._due[0].at - self.clock()
                    if wait <= 0:
                        return heapq.heappop(self._due)
                    self._wake.wait(wait)
                else:
                    self._wake.wait()

    def _run(self) -> None:
        while True:
            due = self._next()
            try:
                close_old_connections()
                self.deliver(due)
            except Exception:  # a simulator's own failure must not end its callbacks
                logger.exception("callback %s for %s failed", due.state, due.generation_id)
            finally:
                connection.close()

    def deliver(self, due: Due) -> bool:
        """Send one callback; plan a retry when it was not answered 200. True when delivered."""
        from generations.simulators.dream_machine import engine

        gen = DreamGeneration.objects.filter(pk=due.generation_id).first()
        if gen is None:
            return False
        body = engine.as_reply(gen, due.base_url)
        if due.state == "dreaming" and body["state"] != "dreaming":
            return False  # already finished: the final callback says so
        try:
            with providers.http_client(timeout=CALLBACK_TIMEOUT) as client:
                answered = client.post(due.url, json=body).status_code == 200
        except httpx.HTTPError:
            answered = False
        if not answered and due.attempt < CALLBACK_RETRIES:
            delay = RETRY_DELAY / max(settings.LUMA_SIM_SPEED, 1e-6)
            self._push(
                Due(
                    self.clock() + delay,
                    0,
                    due.generation_id,
                    due.state,
                    due.url,
                    due.base_url,
                    due.attempt + 1,
                )
            )
        if due.state == "dreaming" and gen.outcome == "completed" and not due.attempt:
            # Luma makes a job's media while it dreams, so its final callback goes out the
            # moment it finishes: made at the job's first view instead, a burst of jobs
            # finishing together was called back later and later.
            engine.asset_bytes(gen)
        return answered


dispatcher = Dispatcher()
