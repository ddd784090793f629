"""Concurrent calls of one Lua script sharing one pipelined round trip to Redis.

Why: every webhook request in flight enqueues its push with the ENQUEUE script. Sent one by one,
each call costs a round trip and redis-py's per-command overhead; sent together, a burst of
requests costs one round trip (~2x enqueue throughput at 32 requests in flight,
benchmarks/webhook_load.py). The first caller of an event-loop turn leads: it yields once so the
others can join, then sends every queued EVALSHA in one pipeline (not a transaction: each script
is atomic by itself) and hands each caller its own reply. Redis Cluster pipelines cannot load
scripts, so there each call goes alone.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.exceptions import NoScriptError

_Call = tuple[list[str], list[Any], "asyncio.Future[Any]"]


class BatchedScript:
    """``await batched(keys, args)`` runs the script (its reply, or the error it raised)."""

    def __init__(self, redis: Any, source: str, *, timeout_s: float, cluster: bool = False) -> None:
        self.redis = redis
        self.source = source
        self.timeout_s = timeout_s
        self.cluster = cluster
        self._script = redis.register_script(source)
        self._batch: list[_Call] = []  # calls waiting to be sent

    async def __call__(self, keys: list[str], args: list[Any]) -> Any:
        if self.cluster:
            async with asyncio.timeout(self.timeout_s):
                return await self._script(keys=keys, args=args)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._batch.append((keys, args, future))
        if len(self._batch) == 1:
            await asyncio.sleep(0)  # the other requests of this loop turn join the batch
            batch, self._batch = self._batch, []
            try:
                # One deadline for the whole batch, held by the leader: the followers need none of
                # their own, because the leader settles every future whatever happens to it.
                async with asyncio.timeout(self.timeout_s):
                    replies = await self._send(batch)
            except BaseException as exc:
                shared = exc if isinstance(exc, Exception) else TimeoutError("script batch cancelled")
                for _, _, f in batch:
                    if not f.done():
                        f.set_exception(shared)
                raise
            for (_, _, f), reply in zip(batch, replies):
                if not f.done():
                    f.set_exception(reply) if isinstance(reply, Exception) else f.set_result(reply)
        return await future

    async def _send(self, batch: list[_Call], *, reload: bool = True) -> list[Any]:
        pipe = self.redis.pipeline(transaction=False)
        for keys, args, _ in batch:
            pipe.evalsha(self._script.sha, len(keys), *keys, *args)
        replies: list[Any] = await pipe.execute(raise_on_error=False)
        redo = [i for i, r in enumerate(replies) if isinstance(r, NoScriptError)]
        if redo and reload:
            # First use on this server (or after SCRIPT FLUSH / a failover): load it and resend.
            # NOSCRIPT means the command did not run, so resending cannot run it twice.
            await self.redis.script_load(self.source)
            again = await self._send([batch[i] for i in redo], reload=False)
            for i, reply in zip(redo, again):
                replies[i] = reply
        return replies
