"""Compare channels-redis's two layers on the path Stormchat uses: group_send to chat groups.

Run: ``REDIS_URL=redis://127.0.0.1:6379/0 python -m bench.layer_flavours``. Prints, per
layer, delivered messages per second, delivery latency percentiles and CPU per message.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time

from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer

GROUPS = int(os.environ.get("BENCH_GROUPS", "200"))  # concurrent streams, one viewer each
BATCHES = 25  # stream events per stream (one second of coalesced output)


async def run(layer: object) -> dict[str, float]:
    channels = [await layer.new_channel() for _ in range(GROUPS)]  # type: ignore[attr-defined]
    for index, channel in enumerate(channels):
        await layer.group_add(f"chat.bench{index}", channel)  # type: ignore[attr-defined]
    latencies: list[float] = []

    async def viewer(channel: str) -> None:
        for _ in range(BATCHES):
            message = await layer.receive(channel)  # type: ignore[attr-defined]
            latencies.append(time.perf_counter() - message["sent"])

    viewers = [asyncio.create_task(viewer(c)) for c in channels]
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(BATCHES):
        await asyncio.gather(
            *(
                layer.group_send(  # type: ignore[attr-defined]
                    f"chat.bench{i}",
                    {"type": "chat.stream", "content": "x" * 40, "sent": time.perf_counter()},
                )
                for i in range(GROUPS)
            )
        )
        await asyncio.sleep(0.04)
    await asyncio.gather(*viewers)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    latencies.sort()
    count = GROUPS * BATCHES
    return {
        "msgs_per_s": count / wall,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "cpu_us_per_msg": cpu / count * 1e6,
    }


async def main() -> None:
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    # As in the settings: redis-py 8's pool raises past 100 connections, and its 5 s
    # socket timeout breaks the layer's 5 s blocking pop.
    host = {"address": url, "max_connections": 1000, "socket_timeout": 15}
    flavours = {
        "RedisChannelLayer": lambda: RedisChannelLayer(hosts=[host]),
        "RedisPubSubChannelLayer": lambda: RedisPubSubChannelLayer(hosts=[host]),
    }
    chosen = os.environ.get("BENCH_LAYERS", ",".join(flavours)).split(",")
    for name in chosen:
        layer = flavours[name]()
        try:
            result = await asyncio.wait_for(run(layer), 60)
        except TimeoutError:
            print(f"{name:<24} did not deliver {GROUPS * BATCHES} messages within 60 s")
            continue
        figures = "  ".join(f"{k}={v:,.1f}" for k, v in result.items())
        print(f"{name:<24} {figures}")
        if hasattr(layer, "flush"):
            await layer.flush()


if __name__ == "__main__":
    asyncio.run(main())
