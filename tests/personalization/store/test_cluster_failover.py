"""A replica promotion on a real Redis Cluster while profiles are being written.

Three masters with one replica each run on loopback ports. Writers keep applying events while one
replica takes over its master (``CLUSTER FAILOVER``). Every event the store acknowledged must be
in the profiles afterwards, and the store keeps working against the new topology.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence

import pytest
import redis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster

from personalization.errors import StoreUnavailable
from personalization.store.protocols import Document
from personalization.store.redis_store import RedisStore
from tests.redis_servers import RedisCluster, start_cluster

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def replicated_cluster() -> Iterator[RedisCluster]:
    cluster = start_cluster(masters=3, replicas=1)
    try:
        yield cluster
    finally:
        cluster.stop()


def count(profile: Document | None, events: Sequence[Document]) -> Document:
    profile = dict(profile or {"ids": []})
    profile["ids"] = profile["ids"] + [e["event_id"] for e in events]
    return profile


async def test_acknowledged_writes_survive_a_replica_promotion(
    replicated_cluster: RedisCluster,
) -> None:
    client = AsyncRedisCluster.from_url(replicated_cluster.url)
    await client.initialize()
    store = RedisStore(client, prefix="failover")
    people = [f"p{i}" for i in range(12)]
    acknowledged: dict[str, list[str]] = {p: [] for p in people}
    stop = asyncio.Event()

    async def writer(person: str) -> None:
        n = 0
        while not stop.is_set():
            event_id = f"{person}-{n}"
            try:
                await store.apply([(person, [{"event_id": event_id}])], count)
            except StoreUnavailable:
                await asyncio.sleep(0.05)  # not acknowledged: the client would retry
                continue
            acknowledged[person].append(event_id)
            n += 1
            await asyncio.sleep(0.005)

    tasks = [asyncio.create_task(writer(p)) for p in people]
    await asyncio.sleep(0.5)

    # Promote the replica of the master that holds the first person's slot.
    key = store.keys.of_profile(people[0], "profile")
    master_port = int(client.get_node_from_key(key).port)
    nodes = {n.port: redis.Redis(port=n.port) for n in replicated_cluster.nodes}
    master_id = nodes[master_port].cluster("myid")
    replica_port = next(
        port for port, r in nodes.items()
        if port != master_port and r.execute_command("ROLE")[0] == b"slave"
        and r.info("replication")["master_port"] == master_port
    )
    replica = nodes[replica_port]
    for _ in range(100):  # the replica must have finished its first sync
        if replica.info("replication").get("master_link_status") == "up":
            break
        await asyncio.sleep(0.1)
    # A manual failover waits for the replica to catch up; on a loaded machine it can time out
    # (after twice the node timeout), so it is asked again rather than forced.
    for _attempt in range(4):
        replica.execute_command("CLUSTER FAILOVER")
        for _ in range(60):
            if replica.execute_command("ROLE")[0] == b"master":
                break
            await asyncio.sleep(0.1)
        if replica.execute_command("ROLE")[0] == b"master":
            break
    assert nodes[replica_port].execute_command("ROLE")[0] == b"master", "replica not promoted"
    assert nodes[master_port].cluster("myid") == master_id

    await asyncio.sleep(1.0)
    stop.set()
    await asyncio.gather(*tasks)

    for person in people:
        profile = await store.get(person)
        assert profile is not None
        stored = set(profile["ids"])
        missing = [e for e in acknowledged[person] if e not in stored]
        assert not missing, f"{person} lost acknowledged events {missing[:5]}"
        assert len(acknowledged[person]) > 5
    await client.aclose()
