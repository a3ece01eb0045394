"""RequestThreads (clarity/api/django_middleware.py): a few threads while they keep coming
back; threads of their own for the waiting requests once every lent one is held up."""

import asyncio
import statistics
import threading

import pytest

from clarity.api.django_middleware import RequestThreads

PATIENCE = 0.05


async def _flow(threads: RequestThreads, requests: int, work: float) -> None:
    async def one():
        executor = await threads.borrow()
        try:
            await asyncio.sleep(work)
        finally:
            threads.give_back(executor)

    await asyncio.gather(*(one() for _ in range(requests)))


@pytest.mark.asyncio
async def test_a_steady_flow_is_served_by_the_running_threads_alone():
    # Given 3 running threads, 16 at most, and 40 requests in flight that each take 5 ms
    threads = RequestThreads(running=3, maximum=16, patience=PATIENCE)
    # When they are served (each waits far longer than the patience: 40 / 3 x 5 ms)
    await _flow(threads, 40, 0.005)
    # Then no thread beyond the 3 was started: threads kept coming back
    assert threads.started == 3


@pytest.mark.asyncio
async def test_stuck_threads_make_the_waiting_requests_get_threads_of_their_own():
    threads = RequestThreads(running=2, maximum=5, patience=PATIENCE)
    loop = asyncio.get_running_loop()
    # Given both running threads held by requests that are stuck (a lock, an outage)
    stuck = [await threads.borrow(), await threads.borrow()]
    # When three more requests come
    started = loop.time()
    waiting = [asyncio.ensure_future(threads.borrow()) for _ in range(4)]
    await asyncio.sleep(0)
    assert not any(task.done() for task in waiting)  # they wait their turn first
    await asyncio.wait(waiting, timeout=1, return_when=asyncio.FIRST_COMPLETED)
    waited = loop.time() - started
    await asyncio.sleep(PATIENCE / 5)
    done = [task for task in waiting if task.done()]
    pending = [task for task in waiting if not task.done()]
    # Then after the patience, three get threads of their own, up to the maximum of 5
    assert PATIENCE <= waited < 0.5 and len(done) == 3
    assert len({task.result() for task in done} | set(stuck)) == 5
    # And the fourth gets the first thread that comes back, though more than `running` are lent
    threads.give_back(stuck[0])
    executor = await asyncio.wait_for(pending.pop(), timeout=1)
    assert executor is stuck[0]


@pytest.mark.asyncio
async def test_a_cancelled_wait_loses_no_thread():
    threads = RequestThreads(running=1, maximum=1, patience=PATIENCE)
    held = await threads.borrow()
    # Given a request waiting for the only thread, cancelled (its client went away)
    waiting = asyncio.ensure_future(threads.borrow())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    # When the thread comes back, then the next request gets it at once
    threads.give_back(held)
    assert await asyncio.wait_for(threads.borrow(), timeout=0.01) is held


@pytest.mark.asyncio
async def test_after_a_stall_under_load_the_threads_lent_go_back_to_the_running_few():
    threads = RequestThreads(running=2, maximum=8, patience=PATIENCE)
    loop = asyncio.get_running_loop()
    lent: list[tuple[float, int]] = []

    async def one(work: float):
        executor = await threads.borrow()
        lent.append((loop.time(), threads._lent))
        try:
            await asyncio.sleep(work)
        finally:
            threads.give_back(executor)

    async def client(until: float):
        while loop.time() < until:
            await one(0.005)

    # Given two requests that hold both threads past the patience (a lock, a slow start)
    # while 12 clients keep sending short requests
    start = loop.time()
    stalled = [asyncio.ensure_future(one(3 * PATIENCE)) for _ in range(2)]
    await asyncio.sleep(0)
    await asyncio.gather(*stalled, *(client(start + 0.6) for _ in range(12)))
    # Then the waiting requests got threads of their own meanwhile
    assert threads.started > 2
    # And once threads came back, the running two were lent at once again, not the eight
    # (the old rule kept every client on a thread of its own for good). A median, not a
    # maximum: on a loaded machine the event loop itself can stall past the patience,
    # and the limit rightly rises for that moment.
    assert statistics.median(count for at, count in lent if at > start + 0.4) <= 2


@pytest.mark.asyncio
async def test_a_thread_still_running_an_abandoned_call_is_not_lent_again():
    threads = RequestThreads(running=1, maximum=1, patience=PATIENCE)
    loop = asyncio.get_running_loop()
    release = threading.Event()
    # Given a request cancelled while its thread was blocked (its client went away mid-lock-wait)
    first = await threads.borrow()
    call = asyncio.ensure_future(loop.run_in_executor(first, release.wait, 5))
    await asyncio.sleep(0.01)
    call.cancel()
    threads.give_back(first)
    # When the next request borrows, then it gets a thread of its own, which runs its calls at once
    second = await asyncio.wait_for(threads.borrow(), timeout=0.01)
    assert second is not first
    assert await asyncio.wait_for(loop.run_in_executor(second, lambda: "ran"), timeout=1) == "ran"
    # And the abandoned thread ends with its call
    release.set()
    first._threads.copy().pop().join(timeout=1)
    assert not any(thread.is_alive() for thread in first._threads)
    threads.give_back(second)
    assert await threads.borrow() is second
