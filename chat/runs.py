"""A generation run: backend to group to database. No socket owns it.

The run owns every event of its turn. Its prompt starts building off the event loop and
the database thread as soon as the turn is saved (the embedded model counts tokens with
its own tokenizer), while the run publishes ``ack`` (the turn was saved) and moves the
chat to the top of its owner's list. It then waits its turn if the backend serves
one reply at a time (``queued`` events with the place in line), then streams the reply
from the backend, coalesces deltas (the first goes out at once,
later ones in batches every STREAM_COALESCE_MS), keeps the live text and ``seq`` in the
live store for snapshots, publishes each batch to the chat's group as one ``chat.stream``
event, has the text saved about once a second (chat/flushing.py), and always ends with exactly
one ``chat.complete`` event, sent after the final text is saved. A ``stop`` from any
process reaches it through the chat's control group.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from typing import Any

from channels.layers import BaseChannelLayer, get_channel_layer
from django.conf import settings

from chat import events, metrics
from chat.backends.base import GenerationSummary, ReadPace
from chat.backends.registry import read_window
from chat.batching import DatabaseBatch
from chat.errors import BackendError, as_chat_error
from chat.flushing import reply_flusher
from chat.jobs import ReplyJob
from chat.live import LiveReply, live_delete, live_set
from chat.models import Message
from chat.outages import FIRST_DELAY, MAX_DELAY, Outage
from chat.presenters import message_data
from chat.services import ReplyEnd, replies_finish
from chat.titles import title_chat
from stormchat.text import without_nul

HEARTBEAT_SECONDS = 1.0

logger = logging.getLogger(__name__)

# Prompts are built (tokens counted) on one thread of their own, off the event loop and
# the database thread, in the order turns were saved: so replies join the embedded
# model's line in that order too. A run hands its prompt over when it starts, so the
# prompts of a burst of turns are built while their runs announce them.
_prompt_builder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stormchat-prompts")

# Strong references keep background tasks (runs, titles) alive until they finish.
_background: set[asyncio.Task[Any]] = set()


def _keep(task: asyncio.Task[Any]) -> None:
    """Hold the task until it is done, so the event loop cannot garbage-collect it."""
    _background.add(task)
    task.add_done_callback(_background.discard)


async def background_settled(seconds: float) -> None:
    """Wait (up to ``seconds``) for background runs and titles to finish: a process that
    is about to exit calls this so nothing it started is cut short."""
    pending = {task for task in _background if not task.done()}
    if pending:
        await asyncio.wait(pending, timeout=seconds)


# Replies this process is writing now: the sweep never takes them for orphans.
_running: set[int] = set()


def running_here() -> set[int]:
    """The ids of the replies this process is writing."""
    return _running


metrics.RUNS_ACTIVE.set_function(lambda: len(_running))


def _save_ends(ends: Sequence[ReplyEnd]) -> list[Message | Exception | None]:
    """Save the ends of the replies that finished together in one trip; if that fails,
    each on its own, so one reply's trouble cannot keep the others from completing."""
    try:
        return list(replies_finish(ends))
    except Exception:
        if len(ends) == 1:
            raise
    results: list[Message | Exception | None] = []
    for end in ends:
        try:
            results.append(replies_finish([end])[0])
        except Exception as error:
            results.append(error)
    return results


# Replies that stream at the same pace end together: their final saves share a trip to
# the database thread instead of queueing there one by one (bench S3).
_reply_ends: DatabaseBatch[ReplyEnd, Message | None] = DatabaseBatch(_save_ends)


def coalescing_window(streaming: int | None = None) -> float:
    """Seconds between a reply's batches (and its upstream's reads) with ``streaming``
    replies being written here (default: now): ``STREAM_COALESCE_MS`` for one, widening
    linearly to ``STREAM_COALESCE_MAX_MS`` at ``STREAM_COALESCE_BUSY_REPLIES``. Each window
    costs a read, a publish and a frame per reply, so a busy process spends less per
    token; one person on an idle server gets the finest stream."""
    streaming = len(_running) if streaming is None else streaming
    low, high = settings.STREAM_COALESCE_MS, max(settings.STREAM_COALESCE_MAX_MS, 0)
    busy = settings.STREAM_COALESCE_BUSY_REPLIES
    if high <= low or busy <= 1:
        return low / 1000
    share = min(max(streaming - 1, 0) / (busy - 1), 1.0)
    return (low + (high - low) * share) / 1000


def start_reply(job: ReplyJob) -> asyncio.Task[None]:
    """Start writing the saved reply in the background and return its task."""
    run = ReplyRun(job)
    _running.add(run.message_id)
    # A fresh context: started from an async view, the task would otherwise keep that
    # request's thread-sensitive executor, which Django shuts down once it has answered.
    task = asyncio.create_task(
        run.execute(), name=f"reply-{run.message_id}", context=contextvars.Context()
    )
    task.add_done_callback(lambda _: _running.discard(run.message_id))
    _keep(task)
    return task


class ReplyRun:
    """One reply being written."""

    def __init__(self, job: ReplyJob) -> None:
        self.job = job
        self.prompt = _prompt_builder.submit(job.prompt)
        self.chat_id: uuid.UUID = job.chat.pk
        self.message_id: int = job.turn.reply.pk
        self.layer: BaseChannelLayer = get_channel_layer()
        self.group = events.chat_group(self.chat_id)
        # A continued reply starts from its text so far; others start empty.
        self.text = job.turn.reply.content
        self.seq = 0
        self.position = 0
        self.control_group = events.control_group(self.chat_id)
        self.control: str | None = None
        self.log_context = {"chat_id": str(self.chat_id), "message_id": self.message_id}
        # Redis may restart mid-reply: publishing pauses, writing and saving go on.
        self.layer_outage = Outage("channel layer", self.log_context)
        self.store_outage = Outage("live store", self.log_context)
        self.pending: list[str] = []
        self.has_data = asyncio.Event()
        # Reads of the upstream follow the publishing window (STREAM_PACED_READS).
        self.pace = ReadPace(0.0)
        self.finished = False
        self.summary: GenerationSummary | None = None
        # The inspector's record of the prompt's lore, saved with the reply.
        self.lore: dict[str, list[dict[str, Any]]] = {}

    async def execute(self) -> None:
        """Run to the end, whatever happens, and finish the reply exactly once."""
        # Listen for stop before anyone hears of the turn, so no stop can miss the run.
        listening = asyncio.Event()
        stop = asyncio.create_task(self._wait_for_stop(listening))
        await listening.wait()
        await self.store_outage.call(live_set, self._live())  # the heartbeat starts now
        job = self.job
        turn = job.turn
        ack = events.ack_event(
            user=turn.user,
            reply=turn.reply,
            removed=turn.removed,
            edited=job.edited,
            continued=job.continued,
            regenerated=job.regenerated,
        )
        await self.layer_outage.call(self.layer.group_send, self.group, ack)
        listed = events.listed_event(job.chat)
        await self.layer_outage.call(events.publish, events.owner_group(job.owner), listed)
        for place, slug in enumerate(job.queue, start=1):  # a scene's next speakers
            queued = events.speaker_queued_event(persona=slug, position=place)
            await self.layer_outage.call(self.layer.group_send, self.group, queued)
        generate = asyncio.create_task(self._generate())
        status, error = Message.Status.COMPLETE, None
        try:
            try:
                await asyncio.wait({generate, stop}, return_when=asyncio.FIRST_COMPLETED)
                if not generate.done():  # stopped
                    generate.cancel()
                    status = Message.Status.CANCELLED
                    await asyncio.wait({generate})
                elif generate.cancelled():
                    status = Message.Status.CANCELLED
                else:
                    error = generate.exception()
            finally:
                stop.cancel()
            await self._finish(status, error)
        finally:
            # After ``complete``: leaving the control group is tidying, not the reply.
            if self.control is not None:
                with contextlib.suppress(Exception):  # a membership left behind expires
                    await self.layer.group_discard(self.control_group, self.control)

    async def _wait_for_stop(self, listening: asyncio.Event) -> None:
        """Until a ``stop`` arrives on the chat's control group. Through a channel-layer
        outage it listens again once the layer is back; it never holds up the reply."""
        delay = FIRST_DELAY
        while True:
            try:
                if self.control is None:
                    self.control = await self.layer.new_channel()
                await self.layer.group_add(self.control_group, self.control)
                listening.set()
                while (await self.layer.receive(self.control)).get("type") != "run.stop":
                    pass
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                listening.set()
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_DELAY)

    async def _generate(self) -> None:
        """Read the backend into ``pending`` while the publisher sends batches."""
        publisher = asyncio.create_task(self._publish_loop())
        job = self.job
        room = settings.MAX_REPLY_CHARS - len(self.text)
        try:
            prompt = await asyncio.wrap_future(self.prompt)
            self.lore = {"lore": prompt.lore, "lore_dropped": prompt.lore_dropped}
            stream = job.backend.stream(
                prompt.messages, job.options, on_queued=self._queued, pace=self.pace
            )
            async with aclosing(stream):
                async for item in stream:
                    if isinstance(item, GenerationSummary):
                        self.summary = item
                        continue
                    # A runaway backend is cut off at MAX_REPLY_CHARS (closing upstream).
                    # NUL can't be stored (PostgreSQL), so it never enters the reply.
                    self.pending.append(without_nul(item[:room]))
                    self.has_data.set()
                    room -= len(item)
                    if room <= 0:
                        break
        finally:
            self.finished = True
            self.has_data.set()
            await asyncio.shield(publisher)

    def _queued(self, position: int) -> None:
        """The reply's place in line changed (0: its turn came); tell every connection."""
        self.position = position
        event = events.queued_event(message_id=self.message_id, position=position)
        _keep(asyncio.create_task(self._announce(event)))

    async def _announce(self, event: events.Event) -> None:
        await self.store_outage.call(live_set, self._live())
        await self.layer_outage.call(self.layer.group_send, self.group, event)

    def _live(self) -> LiveReply:
        return LiveReply(self.message_id, self.text, self.seq, self.position, self.job.queue)

    async def _publish_loop(self) -> None:
        """Publish the first delta at once, then one batch per coalescing window."""
        flusher = reply_flusher()
        while True:
            # Under load a batch is nearly always waiting after the window: go straight
            # to it (wait_for made a task and a timer for every batch, ~6 % of S2's loop).
            if not self.has_data.is_set():
                try:
                    async with asyncio.timeout(HEARTBEAT_SECONDS):
                        await self.has_data.wait()
                except TimeoutError:
                    await self.store_outage.call(live_set, self._live())
                    continue
            self.has_data.clear()
            await self._publish()
            if self.finished:
                await self._publish()
                return
            flusher.note(self.message_id, self.text)
            window = coalescing_window()
            self.pace.window = read_window(window)
            if not self.pace.held:  # held reads come a window apart already
                await asyncio.sleep(window)

    async def _publish(self) -> None:
        """Send what is pending as one batch (split only if it is very large)."""
        if not self.pending:
            return
        text = "".join(self.pending)
        self.pending.clear()
        size = settings.STREAM_MAX_BATCH_CHARS
        for start in range(0, len(text), size):
            delta = text[start : start + size]
            self.text += delta
            self.seq += 1
            # Live state first: a client that joins the group after this send reads a
            # snapshot that already includes the batch, and one that joined before gets it.
            await self.store_outage.call(live_set, self._live())
            event = events.stream_event(message_id=self.message_id, seq=self.seq, content=delta)
            await self.layer_outage.call(self.layer.group_send, self.group, event)

    async def _finish(self, status: Message.Status, error: BaseException | None) -> None:
        """Save the final reply, then tell every connection: error (if any), then complete."""
        error_text = ""
        if error is not None:
            status = Message.Status.FAILED
            failure = as_chat_error(error)
            metrics.BACKEND_ERRORS.labels(code=failure.code).inc()
            if isinstance(failure, BackendError):  # for operators: what and where
                logger.warning(
                    "reply %s failed: %s %s", self.message_id, failure.code, failure.detail
                )
            error_text = failure.message
            event = events.error_event(error=failure, message_id=self.message_id)
            await self.layer_outage.call(self.layer.group_send, self.group, event)
        reply_flusher().forget(self.message_id)
        if self.summary is not None:
            metrics.TOKENS.inc(self.summary.completion_tokens or 0)
            if self.summary.ttft_ms is not None:
                metrics.TTFT.observe(self.summary.ttft_ms / 1000)
        end = ReplyEnd(self.message_id, self.text, status, self.summary, error_text, self.lore)
        saved = await _reply_ends(end)
        await self.store_outage.call(live_delete, self.message_id)
        data: dict[str, Any] = (
            message_data(saved)
            if saved is not None
            else {"id": self.message_id, "content": self.text, "status": status}
        )
        complete = events.complete_event(message=data)
        self.layer_outage.retry_now()  # the last event is worth one more try
        await self.layer_outage.call(self.layer.group_send, self.group, complete)
        if self.job.wants_title and status == Message.Status.COMPLETE and self.text:
            self._title_later()
        if status == Message.Status.COMPLETE and (self.job.queue or self.job.auto > 0):
            _keep(asyncio.create_task(self._next_speaker(), context=contextvars.Context()))

    async def _next_speaker(self) -> None:
        """A scene goes on: the next queued speaker, or another turn of the members
        talking among themselves, answers this reply (a stop ended the queue with it)."""
        from chat import actions  # the actions start runs: imported when a scene goes on

        try:
            await actions.turn_next(self.job, self.text)
        except Exception as error:  # the person wrote meanwhile, or left: the scene rests
            logger.info("scene stopped: %s", as_chat_error(error).message, extra=self.log_context)

    def _title_later(self) -> None:
        """Title the chat in the background; the reply is already complete."""
        job, user = self.job, self.job.turn.user
        task = asyncio.create_task(
            title_chat(
                chat=job.chat,
                owner=job.owner,
                backend=job.backend,
                model=job.options.model,
                user_text=user.content if user else "",
                reply_text=self.text,
            )
        )
        _keep(task)
