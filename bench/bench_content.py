"""Content pool costs: index lookup, audience check, rendering, and a full refresh.

Run: ``.venv/bin/python bench/bench_content.py [--redis-url redis://127.0.0.1:6379/0]``.
Pools of 50 and 5,000 live items spread over 7 slots x 2 languages (as in the demo).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from content_pool.expressions import compile_expression
from content_pool.models import ContentDraft
from content_pool.pool import ContentPool
from content_pool.render import Renderer
from content_pool.storage import ContentStore, MemoryContentStore, RedisContentStore

SLOTS = [("hero", "web"), ("sidebar", "web"), ("banner", "web"), ("product_reco", "web"),
         ("chat_reply", "chat"), ("email_block", "email"), ("notification", "push")]
AUDIENCE = ('device.type == "mobile" and source.medium in ["search", "email"] '
            'and profile.lifecycle != "lapsed" and affinity("hiking") > 0.3')
TEMPLATE = ("<section><h2>{% if first_name %}Hallo {{ first_name }}! {% endif %}{{ item.title }}"
            "</h2><p>{{ profile.interests|join(', ') }} · {{ situation.daypart }}</p></section>")
CONTEXT = {"device": {"type": "mobile"}, "source": {"medium": "email"},
           "profile": {"lifecycle": "active", "affinities": {"hiking": 0.5}}}
PROFILE = {"lifecycle": "active", "affinities": {"hiking": 0.5}}


def drafts(n: int, rng: random.Random) -> list[ContentDraft]:
    out = []
    for i in range(n):
        slot, channel = SLOTS[i % len(SLOTS)]
        out.append(ContentDraft(
            id=f"item-{i}", title=f"Item {i}", slot=slot, channel=channel,  # type: ignore[arg-type]
            language="de" if i % 2 else "en", template=TEMPLATE, priority=rng.randint(0, 100),
            targeting={"audience": AUDIENCE if i % 3 == 0 else None},  # type: ignore[arg-type]
            status="live",
        ))
    return out


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - start) / 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


async def fill(store: ContentStore, items: list[ContentDraft]) -> None:
    for chunk in range(0, len(items), 50):
        await asyncio.gather(*(store.put(d) for d in items[chunk:chunk + 50]))


async def main(redis_url: str | None) -> None:
    rng = random.Random(7)
    now = datetime.now(UTC)
    renderer = Renderer()
    expression = compile_expression(AUDIENCE)
    print(f"{'pool':>6} {'operation':<34} {'median µs':>10} {'p99 µs':>10}")
    for size in (50, 5000):
        items = drafts(size, rng)
        store = MemoryContentStore()
        await fill(store, items)
        pool = ContentPool(store)
        start = time.perf_counter()
        await pool.refresh()
        refresh_ms = (time.perf_counter() - start) * 1000
        item = pool.eligible("hero", "web", "de", now)[0]
        def lookup(pool: ContentPool = pool) -> object:
            return pool.eligible("hero", "web", "de", now)

        def render(item: ContentDraft = item) -> object:
            return renderer.render(item, first_name="Ana", profile=PROFILE, consent=True)

        rows = {
            "eligible(hero, web, de)": timed(lookup, 20000),
            "audience condition (4 clauses)": timed(lambda: expression.matches(CONTEXT), 20000),
            "render web item (cached template)": timed(render, 5000),
        }
        for name, (median, p99) in rows.items():
            print(f"{size:>6} {name:<34} {median:>10.1f} {p99:>10.1f}")
        print(f"{size:>6} {'first load from memory store':<34} {refresh_ms * 1000:>10.0f}")
        start = time.perf_counter()
        await pool.refresh()
        again_us = (time.perf_counter() - start) * 1e6
        print(f"{size:>6} {'refresh from memory store':<34} {again_us:>10.0f}")
        if redis_url:
            import redis.asyncio as aioredis

            client = aioredis.Redis.from_url(redis_url)
            prefix = f"bench{uuid.uuid4().hex[:6]}"
            redis_store = RedisContentStore(client, prefix)
            await fill(redis_store, items)
            redis_pool = ContentPool(redis_store)
            await redis_pool.refresh()
            start = time.perf_counter()
            await redis_pool.refresh()
            print(f"{size:>6} {'refresh from Redis':<34} "
                  f"{(time.perf_counter() - start) * 1e6:>10.0f}")
            for d in items:
                await redis_store.delete(d.id)
            await client.aclose()
    start = time.perf_counter()
    for _ in range(1000):
        compile_expression(AUDIENCE)
    print(f"{'':>6} {'compile_expression (per condition)':<34} "
          f"{(time.perf_counter() - start) * 1000:>10.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis-url", default=None)
    asyncio.run(main(parser.parse_args().redis_url))
