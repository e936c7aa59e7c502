// Dreiklang live client: one WebSocket, resume by sequence, pending sends, unread badges.
// Protocol: docs/protocol.md. htmx handles forms and fragments; this file handles live frames.
// Messages written offline wait in the device's outbox (outbox.js) until the server acks them.
/* global Outbox */
(() => {
  "use strict";
  const body = document.body;
  const me = body.dataset.me;
  if (!me) return;

  const BACKOFF_MIN_MS = 500; // first retry soon: most drops are brief
  const BACKOFF_MAX_MS = 30000; // a phone in a dead zone should not burn its battery
  const TYPING_EVERY_MS = 2000; // the server drops typing notices sent more often
  const TYPING_SHOWN_MS = 4000; // how long "X is typing" stays without a new notice
  const PING_EVERY_MS = 25000; // keeps NAT mappings open and detects dead sockets

  const conn = document.getElementById("conn");
  const threadEl = document.getElementById("thread");
  const threadId = threadEl ? threadEl.dataset.thread : null;
  const state = {
    ws: null,
    attempts: 0,
    timer: null,
    seq: threadEl ? Number(threadEl.dataset.seq) : 0,
    outbox: new Map(), // client_id -> {body, el}: this page's unconfirmed messages
    typedAt: 0,
    typingTimer: null,
    readTimer: null,
    opened: false, // the socket was open before: frames may have been missed since
    leaving: false, // this page is signing out: its socket closing (4401) is expected
  };
  const logout = document.getElementById("logout");
  if (logout) logout.addEventListener("submit", () => (state.leaving = true));

  function setConn(name) {
    if (!conn) return;
    conn.dataset.state = name;
    conn.textContent = conn.dataset["label" + name[0].toUpperCase() + name.slice(1)] || name;
  }

  function wsUrl() {
    const list = document.getElementById("thread-list") ? "?list=1" : "";
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws" + list;
  }

  function connect() {
    clearTimeout(state.timer);
    setConn(state.attempts ? "reconnecting" : "connecting");
    let ws;
    try {
      ws = new WebSocket(wsUrl());
    } catch (e) {
      scheduleReconnect();
      return;
    }
    state.ws = ws;
    ws.onopen = () => {
      state.attempts = 0;
      setConn("live");
      const stale = state.opened || shownFromHistory() || body.dataset.savedCopy;
      // A saved copy shown offline is brought up to date by the resume below: drop the banner.
      delete body.dataset.savedCopy;
      if (stale) refreshList();
      state.opened = true;
      if (threadId) send({ type: "subscribe", thread: threadId, since: state.seq });
      flushOutbox();
    };
    ws.onmessage = (e) => {
      let frame;
      try {
        frame = JSON.parse(e.data);
      } catch (err) {
        return;
      }
      handle(frame);
    };
    ws.onclose = (e) => {
      if (state.ws === ws) state.ws = null;
      setConn(navigator.onLine === false ? "offline" : "reconnecting");
      if (state.leaving) return;
      if (e.code === 4401 || e.code === 1008) checkSession();
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    clearTimeout(state.timer);
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** state.attempts);
    state.attempts += 1;
    const delay = ceiling / 2 + Math.random() * (ceiling / 2); // jitter spreads a herd
    state.timer = setTimeout(connect, delay);
  }

  function reconnectNow() {
    if (state.ws && state.ws.readyState <= 1) return;
    state.attempts = 0;
    connect();
  }

  async function checkSession() {
    try {
      const r = await fetch("/api/v1/me", { credentials: "same-origin" });
      if (r.status !== 401) return;
      // Signed out from another device: this one forgets the person's saved pages and outbox
      // (a shared tablet), as its own sign-out button does (pwa.js).
      if (window.dreiklangForget) await window.dreiklangForget();
      location.href = "/login?next=" + encodeURIComponent(location.pathname);
    } catch (e) {
      /* offline: keep retrying */
    }
  }

  function send(frame) {
    if (state.ws && state.ws.readyState === 1) {
      state.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  // -- incoming frames -------------------------------------------------------------

  // Every frame the server sends, by type: one table (docs/protocol.md). A type this page does
  // not know (a newer server) is ignored with a warning, never taken for a message.
  const FRAMES = {
    event: onEvent,
    reset: (f) => {
      if (f.thread === threadId) location.reload();
    },
    ack: onAck,
    error: onError,
    typing: onTyping,
    activity: onActivity,
    read: onRead,
    hello: ignore,
    subscribed: ignore,
    unsubscribed: ignore,
    pong: ignore,
  };

  // Thread events, by name: each replaces or adds its fragment (the server rendered it).
  const EVENTS = {
    "message.created": onMessage,
    "message.edited": onMessage,
    "message.deleted": onMessage,
    "thread.updated": onThreadHead,
  };

  function ignore() {}

  function handle(f) {
    const handler = Object.prototype.hasOwnProperty.call(FRAMES, f.type) ? FRAMES[f.type] : null;
    if (!handler) {
      console.warn("Dreiklang: ignoring a frame of unknown type", f.type);
      return;
    }
    handler(f);
  }

  function fragment(html) {
    const t = document.createElement("template");
    t.innerHTML = html.trim();
    return t.content.firstElementChild;
  }

  // The server renders times in UTC; show them in the device's time zone.
  function localTimes(root) {
    for (const t of root.querySelectorAll("time[datetime]")) {
      if (t.dateTime) t.textContent = shortTime(t.dateTime);
    }
  }

  function place(el) {
    const old = document.getElementById(el.id);
    if (old) {
      old.replaceWith(el);
    } else {
      document.getElementById("messages").appendChild(el);
    }
    localTimes(el);
    if (window.htmx) window.htmx.process(el);
  }

  function onEvent(f) {
    if (f.thread !== threadId) return;
    // Numbered events come once and in order; an unnumbered one (seq null: shown to this
    // person besides staff) replaces its fragment and moves nothing.
    if (f.seq !== null && f.seq !== undefined) {
      if (f.seq <= state.seq) return; // replayed or duplicate
      state.seq = f.seq;
      threadEl.dataset.seq = String(f.seq);
    }
    const apply = Object.prototype.hasOwnProperty.call(EVENTS, f.name) ? EVENTS[f.name] : null;
    if (!apply) {
      console.warn("Dreiklang: ignoring an event of unknown name", f.name);
      return;
    }
    const el = fragment(f.html);
    if (el) apply(f, el);
  }

  function onThreadHead(f, el) {
    document.getElementById("thread-head").replaceWith(el);
    if (window.htmx) window.htmx.process(el);
  }

  function onMessage(f, el) {
    const stuckToBottom = nearBottom();
    const editing = document.querySelector("#" + CSS.escape(el.id) + ".editing");
    if (!editing) place(el);
    const pending = document.querySelector('[data-pending="' + CSS.escape(f.client_id || "") + '"]');
    if (pending) pending.remove();
    if (f.name === "message.created") {
      state.outbox.delete(f.client_id);
      if (el.dataset.author === me) stored(() => Outbox.remove(f.client_id));
      if (stuckToBottom || el.dataset.author === me) toNewest();
      markReadSoon();
    }
  }

  function onAck(f) {
    if (f.client_id) stored(() => Outbox.remove(f.client_id));
    const item = f.client_id && state.outbox.get(f.client_id);
    if (!item) return;
    state.outbox.delete(f.client_id);
    // The event usually arrived first; if not, show the message as sent until it does.
    if (item.el.isConnected && !document.getElementById("msg-" + f.id)) {
      item.el.id = "msg-" + f.id;
      item.el.classList.remove("pending");
      item.el.querySelector(".state").textContent = "";
    } else {
      item.el.remove();
    }
  }

  function onError(f) {
    if (f.client_id && f.code === "internal") return; // the server stumbled: retry on reconnect
    if (f.client_id) stored(() => Outbox.fail(f.client_id, f.message));
    const item = f.client_id && state.outbox.get(f.client_id);
    if (item) {
      state.outbox.delete(f.client_id);
      showFailed(item.el, f.client_id, item.body, f.message);
      return;
    }
    const slot = document.getElementById("form-error");
    if (slot) slot.innerHTML = '<p class="error" role="alert"></p>';
    if (slot) slot.firstChild.textContent = f.message;
  }

  function onTyping(f) {
    if (f.thread !== threadId || f.user === me) return;
    const line = document.getElementById("typing");
    const name = f.name + (f.staff ? " (" + threadEl.dataset.labelStaff + ")" : "");
    line.textContent = threadEl.dataset.labelTyping.replace("{name}", name);
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(() => (line.textContent = ""), TYPING_SHOWN_MS);
  }

  // Only threads the person follows or took part in count (data-uncounted: the others).
  function badge(item) {
    const unread = "uncounted" in item.dataset ? 0 : Math.max(0, Number(item.dataset.count) - Number(item.dataset.read));
    const b = item.querySelector(".unread");
    b.hidden = unread === 0;
    b.querySelector(".n").textContent = String(unread);
    if (window.dreiklangBadge) window.dreiklangBadge();
  }

  // Activity frames are not replayed: a thread list that was disconnected, or that the browser
  // showed again from its cache (back button), fetches its rows again when the socket opens.
  function shownFromHistory() {
    const nav = performance.getEntriesByType ? performance.getEntriesByType("navigation")[0] : null;
    return Boolean(nav && nav.type === "back_forward");
  }

  function refreshList() {
    if (document.getElementById("thread-list") && window.htmx) {
      window.htmx.ajax("GET", "/threads", { target: "#thread-list", swap: "innerHTML" });
    }
  }

  function onActivity(f) {
    const item = document.getElementById("t-" + f.thread);
    if (!item) {
      const list = document.getElementById("thread-list");
      if (list && window.htmx) window.htmx.ajax("GET", "/threads", { target: "#thread-list", swap: "innerHTML" });
      return;
    }
    item.dataset.count = String(f.count);
    if (f.thread === threadId) item.dataset.read = String(f.count);
    const time = item.querySelector("time");
    if (time) {
      time.dateTime = f.at;
      time.textContent = shortTime(f.at);
    }
    badge(item);
    if (f.kind === "message.created" && item.parentElement.firstElementChild !== item) {
      item.parentElement.prepend(item);
    }
  }

  function onRead(f) {
    const item = document.getElementById("t-" + f.thread);
    if (!item) return;
    item.dataset.read = String(Math.max(Number(item.dataset.read), f.count));
    badge(item);
  }

  function shortTime(iso) {
    const d = new Date(iso);
    const p = (n) => String(n).padStart(2, "0");
    return p(d.getDate()) + "." + p(d.getMonth() + 1) + ". " + p(d.getHours()) + ":" + p(d.getMinutes());
  }

  // The composer sticks to the bottom of the screen, so scrolling the newest message into view
  // would leave it under the composer: scroll to the end of the page instead.
  function toNewest() {
    window.scrollTo(0, document.documentElement.scrollHeight);
  }

  // A link to one message (a notification, a shared link) opens the thread at that message;
  // otherwise the thread opens at its newest message.
  function toLanding() {
    const id = location.hash.startsWith("#msg-") ? decodeURIComponent(location.hash.slice(1)) : "";
    const target = id && document.getElementById(id);
    if (target) target.scrollIntoView({ block: "start" });
    else toNewest();
  }

  function nearBottom() {
    return window.innerHeight + window.scrollY >= document.body.scrollHeight - 120;
  }

  function markReadSoon() {
    if (document.hidden) return;
    clearTimeout(state.readTimer);
    state.readTimer = setTimeout(() => send({ type: "read", thread: threadId }), 400);
  }

  // -- sending -----------------------------------------------------------------------

  function newClientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  function pendingElement(clientId, text) {
    const li = document.createElement("li");
    li.className = "msg pending";
    li.dataset.pending = clientId;
    li.dataset.author = me;
    const meta = document.createElement("div");
    meta.className = "meta";
    const author = document.createElement("span");
    author.className = "author";
    author.textContent = threadEl.dataset.labelYou;
    const st = document.createElement("span");
    st.className = "state";
    st.setAttribute("role", "status");
    st.textContent = state.ws && state.ws.readyState === 1 ? threadEl.dataset.labelSending : threadEl.dataset.labelWaiting;
    meta.append(author, " ", st);
    const b = document.createElement("div");
    b.className = "body";
    b.style.whiteSpace = "pre-wrap";
    b.textContent = text;
    li.append(meta, b);
    return li;
  }

  function sendMessage(clientId, text, thread) {
    return send({ type: "send", thread: thread || threadId, client_id: clientId, body: text });
  }

  // -- the outbox: kept on the device until the server acknowledges -------------------

  // IndexedDB can be missing (private windows); the page then still works, just not offline.
  function stored(fn) {
    if (typeof Outbox === "undefined") return Promise.resolve(undefined);
    return fn().catch(() => undefined);
  }

  async function flushOutbox() {
    const sent = new Set();
    for (const item of (await stored(() => Outbox.all())) || []) {
      if (item.state === "failed") continue;
      if (sendMessage(item.client_id, item.body, item.thread)) sent.add(item.client_id);
    }
    for (const [clientId, item] of state.outbox) {
      if (!sent.has(clientId)) sendMessage(clientId, item.body);
    }
    for (const el of document.querySelectorAll(".msg.pending:not(.failed) .state")) {
      el.textContent = threadEl.dataset.labelSending;
    }
  }

  // Background Sync lets the service worker deliver the outbox after the page is closed.
  function requestSync() {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.ready
      .then((reg) => reg.sync && reg.sync.register("outbox"))
      .catch(() => undefined);
  }

  function showFailed(el, clientId, text, reason) {
    el.classList.add("failed");
    el.querySelector(".state").textContent = threadEl.dataset.labelFailed + ": " + reason;
    if (el.querySelector(".retry")) return;
    const actions = document.createElement("div");
    actions.className = "retry";
    const edit = document.createElement("button");
    edit.type = "button";
    edit.className = "link";
    edit.textContent = threadEl.dataset.labelEdit;
    edit.addEventListener("click", () => {
      const input = document.getElementById("body");
      input.value = text;
      input.focus();
      discard();
    });
    const drop = document.createElement("button");
    drop.type = "button";
    drop.className = "link danger";
    drop.textContent = threadEl.dataset.labelDiscard;
    drop.addEventListener("click", () => discard());
    const discard = () => {
      el.remove();
      state.outbox.delete(clientId);
      stored(() => Outbox.remove(clientId));
    };
    actions.append(edit, drop);
    el.append(actions);
  }

  // Show what this device still has to send in this thread (e.g. written offline, app closed).
  async function restoreOutbox() {
    for (const item of (await stored(() => Outbox.forThread(threadId))) || []) {
      if (document.querySelector('[data-client-id="' + CSS.escape(item.client_id) + '"]')) {
        stored(() => Outbox.remove(item.client_id)); // delivered while we were away
        continue;
      }
      if (state.outbox.has(item.client_id)) continue;
      const el = pendingElement(item.client_id, item.body);
      document.getElementById("messages").appendChild(el);
      if (item.state === "failed") {
        showFailed(el, item.client_id, item.body, item.reason || "");
      } else {
        state.outbox.set(item.client_id, { body: item.body, el });
      }
    }
  }

  if (threadEl) {
    const form = document.getElementById("composer");
    const input = document.getElementById("body");
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      const clientId = newClientId();
      const el = pendingElement(clientId, text);
      document.getElementById("messages").appendChild(el);
      toNewest();
      state.outbox.set(clientId, { body: text, el });
      const csrf = JSON.parse(body.getAttribute("hx-headers") || "{}")["x-csrftoken"] || "";
      const item = { client_id: clientId, thread: threadId, body: text, csrf, created: Date.now(), state: "waiting" };
      // Keep it on the device first, so closing the app cannot lose it.
      stored(() => Outbox.put(item)).then(() => {
        if (!sendMessage(clientId, text)) requestSync();
      });
      input.value = "";
      grow();
      input.focus();
    });
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) form.requestSubmit();
    });
    const grow = () => {
      input.style.height = "auto";
      input.style.height = Math.min(input.scrollHeight + 2, window.innerHeight * 0.4) + "px";
    };
    input.addEventListener("input", () => {
      grow();
      const now = Date.now();
      if (now - state.typedAt > TYPING_EVERY_MS && send({ type: "typing", thread: threadId })) state.typedAt = now;
    });
    restoreOutbox().then(toLanding);
    toLanding();
  }

  localTimes(document);
  document.body.addEventListener("htmx:afterSwap", (e) => localTimes(e.target));
  window.addEventListener("online", reconnectNow);
  window.addEventListener("offline", () => setConn("offline"));
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) {
      reconnectNow();
      if (threadId) markReadSoon();
    }
  });
  setInterval(() => send({ type: "ping" }), PING_EVERY_MS);
  connect();
})();
