"""Durable per-user-ordered message queue on Redis streams (see stream.py and worker.py)."""

from core.queue.entry import Entry
from core.queue.stream import QueueFull, QueueUnavailable, StreamQueue
from core.queue.worker import DeliveryLimitExceeded, Worker

__all__ = ["DeliveryLimitExceeded", "Entry", "QueueFull", "QueueUnavailable", "StreamQueue", "Worker"]
