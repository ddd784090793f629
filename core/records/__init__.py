"""What kefu records for the ops console (``adapters/admin``): compact per-minute counters, the
masked per-user conversation log, the handoff queue and the questions the FAQ did not answer —
all in Redis with TTLs, written by ``Recorder`` from the turn handler's observers and the webhook.
See docs/console.md."""

from core.records.acks import AckBuffer
from core.records.conversation_index import GROUPS, group_of
from core.records.conversations import ConversationLog, conversation_id, split_id
from core.records.entry import agent_entry, event_entry, turn_entry
from core.records.fallthrough import FellThrough
from core.records.flags import ATTENTION_LABELS, NON_ANSWER_LABELS, attention, non_answer
from core.records.handoffs import HandoffQueue
from core.records.histogram import ACK_BOUNDS_MS, LLM_BOUNDS_MS, bucket_index, quantile
from core.records.live import LiveLog
from core.records.ratings import DOWN, UP, Ratings
from core.records.recorder import Recorder, delivery_counts, open_recorder
from core.records.redact import redact
from core.records.timeseries import TimeSeries

__all__ = [
    "ACK_BOUNDS_MS", "ATTENTION_LABELS", "DOWN", "GROUPS", "LLM_BOUNDS_MS", "NON_ANSWER_LABELS", "UP", "AckBuffer",
    "ConversationLog", "FellThrough", "HandoffQueue", "LiveLog", "Ratings", "Recorder", "TimeSeries", "agent_entry",
    "attention", "bucket_index", "conversation_id", "delivery_counts", "event_entry", "group_of", "non_answer",
    "open_recorder", "quantile", "redact", "split_id", "turn_entry",
]
