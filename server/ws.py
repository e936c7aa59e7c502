"""The WebSocket endpoint: one socket per client, every frame checked. See docs/protocol.md."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from server import protocol
from server.actions.messages import audience_of, delete_message, edit_message, send_message
from server.actions.reads import mark_read
from server.actions.sanctions import require_voice
from server.actions.sessions import EVERY_SOCKET
from server.auth import SESSION_SCOPE_KEY, TOKEN_SCOPE_KEY, uses_token
from server.errors import ActionError, Forbidden, NotFound
from server.events.frames import OWN, replay_frames
from server.events.registry import load_subjects
from server.fanout import Fanout, LiveEvent
from server.i18n import N_, negotiate
from server.models import Audience, User
from server.protocol import (
    CUSTOMERS_CHANNEL,
    DESK_CHANNEL,
    IDEAS_CHANNEL,
    KNOWLEDGE_CHANNEL,
    MODERATION_CHANNEL,
)
from server.publisher import Publisher
from server.queries import events_since, seq_of, thread_for
from server.settings import Settings
from server.socketwriter import CLOSE_SIGNED_OUT, SocketWriter
from server.tokenbucket import TokenBucket
from server.views.common import identify

log = logging.getLogger(__name__)

# A 10,000-character body as JSON: 4-byte characters raw (40 KB), or escaped as surrogate pairs
# (\ud83d\ude00, 12 bytes each: 120 KB) by clients such as Python's json.dumps.
FRAME_MAX_BYTES = 128 * 1024
SUBSCRIPTIONS_MAX = 200  # a phone shows one thread; a desk a few dozen
TYPING_INTERVAL_SECONDS = 2.0  # at most one typing notice per thread and connection this often
# Frames already received are handled without suspending: after this many in a row, let the
# other sockets' deliveries run (a flood must not stall everyone until its backlog is done).
YIELD_EVERY_FRAMES = 8
CLOSE_POLICY = 1008  # the client broke a rule of the protocol: here, sending too many frames


@dataclass(slots=True)
class Subscription:
    cursor: int = 0  # last sequence delivered, in this viewer's numbering
    buffer: list[tuple[int | None, str]] | None = field(default_factory=list)  # during replay
    typed_at: float = 0.0


class Connection(SocketWriter):
    """One client socket: its subscriptions, and its writer (SocketWriter)."""

    def __init__(
        self,
        ws: WebSocket,
        user: User,
        fmt: str,
        fanout: Fanout,
        publisher: Publisher,
        closed_by: str | None = None,
    ) -> None:
        super().__init__(ws)
        self.user = user
        self.closed_by = closed_by  # its session's id, or "token:<id>": ending that closes it
        self.user_id = user.id
        self.staff = user.is_staff
        self.view = Audience.STAFF if self.staff else Audience.ALL
        self.fmt = fmt
        self.key = f"{self.view.value}:{fmt}"
        self.own_key = f"{OWN}:{fmt}"
        self.fanout = fanout
        self.publisher = publisher
        self.subs: dict[str, Subscription] = {}

    # -- delivery (called by the fan-out, must not block) -------------------------------

    def thread_event(self, event: LiveEvent) -> None:
        sub = self.subs.get(event.thread)
        if sub is None:
            return
        frame = event.frames.get(self.key)
        if frame is None:
            if event.also == self.user_id and self.own_key in event.frames:
                self._deliver(sub, None, event.frames[self.own_key])
            return  # not for this audience
        self._deliver(sub, event.staff_seq if self.staff else event.public_seq, frame)

    def _deliver(self, sub: Subscription, seq: int | None, frame: str) -> None:
        """Send an event now, or keep it while the subscription replays; numbered events go
        out once and in order, unnumbered ones (a rule's "also") as they come."""
        if sub.buffer is not None:
            sub.buffer.append((seq, frame))
        elif seq is None:
            self.push(frame)
        elif seq > sub.cursor:
            sub.cursor = seq
            self.push(frame)

    def channel_frames(self, channel: str, frames: dict[str, str]) -> None:
        ended = frames.get("signed_out")  # on "user:<id>": sessions that just ended
        if ended is not None:
            ids = ended.split(",")
            if EVERY_SOCKET in ids or (self.closed_by is not None and self.closed_by in ids):
                self.sign_out()  # also when the user's role changed: it keeps no stale rights
            return
        if channel.startswith("typing:") and (
            channel[7:] not in self.subs or frames.get("from") == self.user.id
        ):
            return  # not following the thread, or our own typing: only others are told
        frame = frames.get(self.view.value) or frames.get("any")
        if frame is not None:
            self.push(frame)

    def sign_out(self) -> None:
        """Close the socket of a session that ended: not one more frame goes out on it."""
        self.close_with(CLOSE_SIGNED_OUT, "signed out")

    # -- requests from the client --------------------------------------------------------

    def reply(self, frame: protocol.ServerFrame) -> None:
        self.push(protocol.encode(frame))

    def error(self, err: ActionError, **ref: Any) -> None:
        """Reply with an error frame; browsers ("html:<lang>") read it in their language."""
        message = err.message if self.fmt == "json" else err.localized(self.fmt[5:])
        self.push(protocol.error_frame(err.code, message, **ref))

    async def handle(self, raw: str) -> None:
        try:
            if len(raw.encode()) > FRAME_MAX_BYTES:
                raise ActionError(
                    "too_large", N_("frame is larger than {limit} bytes"), limit=FRAME_MAX_BYTES
                )
            frame = protocol.decode(raw)
        except ActionError as err:
            self.error(err, **(protocol.refs(raw) if err.code != "too_large" else {}))
            return
        handler = HANDLERS[type(frame)]
        try:
            await handler(self, frame)
        except ActionError as err:
            self.error(err, **_refs(frame))
        except Exception:  # a bug or an outage must cost one frame, not the whole socket
            log.exception("frame %r failed for user %s", type(frame).__name__, self.user.id)
            self.error(
                ActionError("internal", N_("the server could not handle this frame; try again")),
                **_refs(frame),
            )

    async def subscribe(self, frame: protocol.Subscribe) -> None:
        thread = await thread_for(self.user, frame.thread)
        if thread is None:
            raise NotFound()
        if thread.id not in self.subs and len(self.subs) >= SUBSCRIPTIONS_MAX:
            raise ActionError(
                "too_many",
                N_("at most {limit} subscriptions per socket"),
                limit=SUBSCRIPTIONS_MAX,
            )
        await self.unsubscribe_id(thread.id)
        sub = self.subs[thread.id] = Subscription()
        await self.fanout.join(thread.id, self)
        await self.fanout.listen("typing:" + thread.id, self)
        await thread.refresh_from_db()
        current = seq_of(thread, self.user)
        since = frame.since
        rows = (
            None
            if since is None or since > current or since < 0
            else await events_since(self.user, thread, since)
        )
        if since is not None and rows is None:
            # We cannot bring the client up to date by replay: it must reload the thread.
            self.reply(protocol.Reset(thread=thread.id, seq=current))
            sub.cursor = current
        elif rows is None:
            sub.cursor = current
        else:
            assert since is not None
            sub.cursor = since
            subjects = await load_subjects(thread, rows)
            for seq, text in replay_frames(
                self.user, thread, rows, subjects, self.fmt, self.publisher.company
            ):
                self.push(text)
                if seq is not None:
                    sub.cursor = seq
        buffered, sub.buffer = sub.buffer or [], None
        for live_seq, text in buffered:
            self._deliver(sub, live_seq, text)
        self.reply(protocol.Subscribed(thread=thread.id, seq=sub.cursor))

    async def unsubscribe_id(self, thread_id: str) -> None:
        if self.subs.pop(thread_id, None) is not None:
            await self.fanout.leave(thread_id, self)
            await self.fanout.unlisten("typing:" + thread_id, self)

    async def unsubscribe(self, frame: protocol.Unsubscribe) -> None:
        await self.unsubscribe_id(frame.thread)
        self.reply(protocol.Unsubscribed(thread=frame.thread))

    async def send(self, frame: protocol.Send) -> None:
        msg, created = await send_message(
            self.publisher, self.user, frame.thread, frame.body, frame.client_id,
            audience_of(frame.audience), frame.attachments,
        )  # fmt: skip
        self.reply(
            protocol.Ack(id=msg.id, thread=msg.thread_id, client_id=msg.client_id,
                         duplicate=not created)
        )  # fmt: skip

    async def edit(self, frame: protocol.Edit) -> None:
        msg = await edit_message(self.publisher, self.user, frame.id, frame.body)
        self.reply(protocol.Ack(id=msg.id, thread=msg.thread_id))

    async def delete(self, frame: protocol.Delete) -> None:
        msg = await delete_message(self.publisher, self.user, frame.id)
        self.reply(protocol.Ack(id=msg.id, thread=msg.thread_id))

    async def typing(self, frame: protocol.Typing) -> None:
        sub = self.subs.get(frame.thread)
        if sub is None:
            raise ActionError("not_subscribed", N_("subscribe to the thread first"))
        audience = audience_of(frame.audience)
        if audience == Audience.STAFF and not self.staff:
            raise Forbidden(N_("only staff can write staff notes"))
        require_voice(self.user)  # a muted person is not "typing…" either
        now = time.monotonic()
        if now - sub.typed_at < TYPING_INTERVAL_SECONDS:
            return
        sub.typed_at = now
        notice = protocol.TypingNotice(
            thread=frame.thread, user=self.user.id, name=self.user.display_name, staff=self.staff
        )
        # A note in the making is news for staff only: their view picks the staff key
        # (channel_frames), and no other view has a frame to fall back to.
        key = Audience.STAFF.value if audience == Audience.STAFF else "any"
        await self.publisher.notice(
            "typing:" + frame.thread, {key: protocol.encode(notice), "from": self.user.id}
        )

    async def read(self, frame: protocol.Read) -> None:
        thread = await thread_for(self.user, frame.thread)
        if thread is None:
            raise NotFound()
        await mark_read(self.publisher, self.user, thread)

    async def ping(self, frame: protocol.Ping) -> None:
        self.reply(protocol.Pong(t=frame.t))

    async def close_all(self) -> None:
        for thread_id in list(self.subs):
            await self.unsubscribe_id(thread_id)
        await self.fanout.unlisten("list", self)
        await self.fanout.unlisten(DESK_CHANNEL, self)
        await self.fanout.unlisten(KNOWLEDGE_CHANNEL, self)
        await self.fanout.unlisten(IDEAS_CHANNEL, self)
        await self.fanout.unlisten(CUSTOMERS_CHANNEL, self)
        await self.fanout.unlisten(MODERATION_CHANNEL, self)
        await self.fanout.unlisten("user:" + self.user.id, self)


def _refs(frame: protocol.ClientFrame) -> dict[str, Any]:
    """The fields of a frame that an error about it echoes."""
    return {k: getattr(frame, k) for k in protocol.REF_FIELDS if hasattr(frame, k)}


Handler = Callable[[Connection, Any], Awaitable[None]]
HANDLERS: dict[type[protocol.ClientFrame], Handler] = {
    protocol.Subscribe: Connection.subscribe,
    protocol.Unsubscribe: Connection.unsubscribe,
    protocol.Send: Connection.send,
    protocol.Edit: Connection.edit,
    protocol.Delete: Connection.delete,
    protocol.Typing: Connection.typing,
    protocol.Read: Connection.read,
    protocol.Ping: Connection.ping,
}


async def websocket_endpoint(ws: WebSocket) -> None:
    """Authenticate and check the Origin before accepting; then serve frames until closed."""
    settings: Settings = ws.app.state.settings
    if not settings.origin_allowed(ws.headers.get("origin"), ws.headers.get("host")):
        await ws.close(code=1008, reason="origin not allowed")  # before accept: HTTP 403
        return
    identity = await identify(ws)
    if identity is None:
        await ws.close(code=CLOSE_SIGNED_OUT, reason="sign in first")  # before accept: HTTP 403
        return
    user = identity.user
    if uses_token(ws):
        closed_by: str | None = f"token:{ws.scope[TOKEN_SCOPE_KEY]}"  # revoking it closes this
    else:
        closed_by = identity.session_id
    if ws.headers.get("origin") is None and not uses_token(ws):
        # Browsers always send an Origin; a cookie without one did not come from our page.
        await ws.close(code=1008, reason="send a token or an Origin")  # before accept: HTTP 403
        return
    if ws.query_params.get("format") == "json":
        fmt = "json"
    else:
        fmt = "html:" + negotiate(ws.headers.get("accept-language"), user.language)
    fanout: Fanout = ws.app.state.fanout
    conn = Connection(ws, user, fmt, fanout, ws.app.state.publisher, closed_by)
    conn.write_timeout = settings.ws_write_timeout
    conn.hold()
    try:
        # Listen before `hello`: from then on the client misses no notice, and a sign-out
        # that happens meanwhile closes the socket (with Redis, subscribing takes a round trip).
        if ws.query_params.get("list") == "1":
            # Thread-list notices are opt-in: a phone inside one thread needs only that thread.
            await fanout.listen("list", conn)
        if ws.query_params.get("desk") == "1" and user.is_staff:
            # The care desk's notices (staff only; frames carry only a "staff" view as well).
            await fanout.listen(DESK_CHANNEL, conn)
        if ws.query_params.get("knowledge") == "1" and user.is_staff:
            # New revisions of articles, for an article's page or editor (staff only).
            await fanout.listen(KNOWLEDGE_CHANNEL, conn)
        if ws.query_params.get("ideas") == "1":
            # Ideas' vote counts and statuses, for the board and the roadmap (everyone).
            await fanout.listen(IDEAS_CHANNEL, conn)
        if ws.query_params.get("customer") == "1" and user.is_staff:
            # Colleagues' changes to a customer's tags and notes, for a profile (staff only).
            await fanout.listen(CUSTOMERS_CHANNEL, conn)
        if user.moderates:
            # Moderators' alerts reach every app of theirs, whatever page is open.
            await fanout.listen(MODERATION_CHANNEL, conn)
        await fanout.listen("user:" + user.id, conn)
        # A sign-out, role change or deactivation published before we listened was not heard:
        # look again, so no socket opens with rights the person has lost.
        ws.scope.pop(SESSION_SCOPE_KEY, None)  # read the session again, not the cached one
        again = await identify(ws)
        if conn.gone:
            return  # signed out while it opened: refused (closing before accept is a 403)
        if again is None or again.user.role != user.role:
            conn.sign_out()  # refused as above; a retry gets the person's current rights
            return
        await ws.accept()
        conn.open_with(protocol.encode(protocol.Hello(user=user.id, staff=user.is_staff,
                                                      format=fmt)))  # fmt: skip
        inbound = TokenBucket(settings.ws_frame_burst, settings.ws_frames_per_second)
        handled = 0
        while not conn.gone:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            if not inbound.take():
                rate = settings.ws_frames_per_second
                reason = f"too many frames: at most {rate:g} a second"
                conn.close_with(CLOSE_POLICY, reason, deaf=True)  # and parse no more of them
                break
            handled += 1
            if handled % YIELD_EVERY_FRAMES == 0:
                await asyncio.sleep(0)
            text = message.get("text")
            if text is None:
                conn.error(ActionError("bad_frame", N_("send text frames (JSON), not binary")))
                continue
            await conn.handle(text)
    except WebSocketDisconnect:
        pass
    finally:
        conn.gone = True
        if conn.draining is not None:
            conn.draining.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await conn.draining
        if conn.closing is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await conn.closing
        await conn.close_all()
