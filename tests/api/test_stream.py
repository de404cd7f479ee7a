"""The stream hub: fan-out, topic filtering, slow consumers dropping their oldest messages, unsubscribing."""

from __future__ import annotations

import asyncio

import pytest

from coinseason.api.http.stream import TOPICS, StreamHub, Subscription, SubscriptionClosed

pytestmark = pytest.mark.anyio


async def test_publish_fans_out_to_every_subscriber_of_the_topic() -> None:
    hub = StreamHub()
    subs = [hub.subscribe({"season"}) for _ in range(5)]
    assert hub.subscribers == 5
    assert hub.publish("season", b"s1") == 5
    assert [await sub.get() for sub in subs] == [b"s1"] * 5


async def test_topics_filter_what_a_subscriber_receives() -> None:
    hub = StreamHub()
    season = hub.subscribe(["season"])
    dominance = hub.subscribe(("dominance",))
    both = hub.subscribe(TOPICS)
    assert hub.publish("season", b"s") == 2
    assert hub.publish("dominance", b"d") == 2
    assert season.topics == frozenset({"season"})
    assert (await season.get(), season.pending) == (b"s", 0)
    assert (await dominance.get(), dominance.pending) == (b"d", 0)
    assert [await both.get(), await both.get()] == [b"s", b"d"]


async def test_unknown_topic_is_refused_by_name() -> None:
    hub = StreamHub()
    with pytest.raises(ValueError, match="unknown topic 'prices'"):
        hub.subscribe({"season", "prices"})
    with pytest.raises(ValueError, match="unknown topic 'seasons'"):
        hub.subscribe("seasons")  # a bare string is one topic, not its letters
    with pytest.raises(ValueError, match="at least one topic"):
        hub.subscribe(set())
    with pytest.raises(ValueError, match="unknown topic 'prices'"):
        hub.publish("prices", b"x")
    assert hub.subscribers == 0


async def test_slow_consumer_drops_its_oldest_messages_and_counts_them() -> None:
    hub = StreamHub(queue_size=3)
    slow = hub.subscribe({"season"})
    fast = hub.subscribe({"season"})
    for i in range(5):
        assert hub.publish("season", f"m{i}".encode()) == 2
        assert await fast.get() == f"m{i}".encode()
    assert slow.pending == 3 and slow.dropped == 2 and fast.dropped == 0
    assert hub.dropped == 2 and hub.published == 10
    assert [await slow.get() for _ in range(3)] == [b"m2", b"m3", b"m4"]


async def test_get_waits_for_the_next_message() -> None:
    hub = StreamHub()
    sub = hub.subscribe({"dominance"})
    waiting = asyncio.create_task(sub.get())
    await asyncio.sleep(0)  # the task runs up to its wait
    assert not waiting.done()
    hub.publish("dominance", b"d1")
    assert await asyncio.wait_for(waiting, 1.0) == b"d1"


async def test_a_cancelled_get_leaves_the_subscription_usable() -> None:
    hub = StreamHub()
    sub = hub.subscribe({"season"})
    waiting = asyncio.create_task(sub.get())
    await asyncio.sleep(0)  # the task runs up to its wait
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    hub.publish("season", b"after")
    assert await asyncio.wait_for(sub.get(), 1.0) == b"after"


async def test_only_one_task_may_wait_on_a_subscription() -> None:
    hub = StreamHub()
    sub = hub.subscribe({"season"})
    first = asyncio.create_task(sub.get())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="already waiting"):
        await sub.get()
    hub.publish("season", b"x")
    assert await first == b"x"


async def test_unsubscribe_stops_delivery_and_ends_a_waiting_get() -> None:
    hub = StreamHub()
    sub = hub.subscribe({"season", "dominance"})
    other = hub.subscribe({"season"})
    waiting = asyncio.create_task(sub.get())
    await asyncio.sleep(0)
    hub.unsubscribe(sub)
    with pytest.raises(SubscriptionClosed):
        await asyncio.wait_for(waiting, 1.0)
    assert hub.subscribers == 1 and sub.closed
    assert hub.publish("season", b"s") == 1
    assert hub.publish("dominance", b"d") == 0
    hub.unsubscribe(sub)  # idempotent
    with pytest.raises(SubscriptionClosed):
        await sub.get()
    assert await other.get() == b"s"


async def test_async_iteration_ends_when_the_hub_closes() -> None:
    hub = StreamHub()
    sub = hub.subscribe({"season"})

    async def read_all(s: Subscription) -> list[bytes]:
        return [payload async for payload in s]

    reader = asyncio.create_task(read_all(sub))
    hub.publish("season", b"a")
    hub.publish("season", b"b")
    await asyncio.sleep(0)  # the reader takes both, then waits for more
    assert sub.pending == 0
    hub.close()
    assert await asyncio.wait_for(reader, 1.0) == [b"a", b"b"]
    assert hub.subscribers == 0


async def test_queue_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="queue_size"):
        StreamHub(queue_size=0)


async def test_one_publish_wakes_every_one_of_1000_waiting_subscribers() -> None:
    # how fast is the benchmark's business (bench/api.py: WebSocket fan-out); here, that every one is reached
    hub = StreamHub()
    subs = [hub.subscribe({"season", "dominance"}) for _ in range(1000)]
    payload = b'{"topic":"season","data":{}}'
    consumers = [asyncio.create_task(sub.get()) for sub in subs]
    await asyncio.sleep(0)  # every consumer is waiting in get()
    assert not any(consumer.done() for consumer in consumers)
    assert hub.publish("season", payload) == 1000
    assert await asyncio.wait_for(asyncio.gather(*consumers), 5.0) == [payload] * 1000
    assert hub.published == 1000 and hub.dropped == 0
