"""RequestThreads (clarity/api/django_middleware.py): a few threads while they keep coming
back; threads of their own for the waiting requests once every lent one is held up."""

import asyncio

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
