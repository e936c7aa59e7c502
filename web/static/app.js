// Dreiklang live client: one WebSocket, resume by sequence, pending sends, unread badges.
// Protocol: docs/protocol.md. htmx handles forms and fragments; this file handles live frames.
// Messages written offline wait in the device's outbox (outbox.js) until the server acks them,
// with their photos and files (attach.js fills the composer's tray); counter.js refuses a text
// over the limit.
/* global Outbox, LengthLimit */
(() => {
  "use strict";
  const body = document.body;
  const me = body.dataset.me;
  if (!me) return;

  const BACKOFF_MIN_MS = 500; // first retry soon: most drops are brief
  const BACKOFF_MAX_MS = 30000; // a phone in a dead zone should not burn its battery
  const TYPING_EVERY_MS = 2000; // the server drops typing notices sent more often
  const TYPING_SHOWN_MS = 4000; // how long "X is typing" stays without a new notice
  // A link can drop every packet and still look open (a phone in a tunnel): only an answer
  // proves the socket alive. A shown page asks when it has heard nothing for a while and gives
  // up on a socket that does not answer, so a dead link is noticed within about 10 s.
  const PING_EVERY_MS = 4000; // while shown: at most one small frame per 4 s of silence
  const PING_HIDDEN_MS = 25000; // in the background: keeps NAT mappings open, spares the battery
  const PONG_TIMEOUT_MS = 5000; // no answer by then: the socket is dead, whatever it says
  const CONNECT_TIMEOUT_MS = 10000; // a handshake that hangs (a dead zone) is given up and retried
  const TICK_MS = 500; // how often the two limits above are checked
  const KEYBOARD_POINTER = "(pointer: fine)"; // a mouse or touchpad: a desk with a keyboard

  const conn = document.getElementById("conn");
  const threadEl = document.getElementById("thread");
  const threadId = threadEl ? threadEl.dataset.thread : null;
  const state = {
    ws: null,
    attempts: 0,
    timer: null,
    seq: threadEl ? Number(threadEl.dataset.seq) : 0,
    outbox: new Map(), // client_id -> {body, el, thread, audience, files}: this page's unconfirmed messages
    done: new Set(), // client_ids acknowledged or refused: never sent again from this page
    waiting: null, // {clientId, resolve}: the outbox item sent, whose answer the pump awaits
    pumping: false,
    pumpAgain: false,
    heardAt: 0, // when the socket last brought a frame
    probeAt: 0, // when the unanswered ping went out (0: none)
    connectTimer: null,
    typingUser: null, // whose "is typing" the line shows
    typedAt: 0,
    typingTimer: null,
    readTimer: null,
    opened: false, // the socket was open before: frames may have been missed since
    leaving: false, // this page is signing out: its socket closing (4401) is expected
    adding: Promise.resolve(), // messages enter the outbox one after another, in the order sent
    uploadRetry: null, // the timer that tries the outbox's uploads again
    uploadBackoff: 0,
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
    // Staff hear the desk's notices on the desk and beside a thread list (claims show there).
    const staffList = list && body.dataset.staff === "1";
    const desk = document.getElementById("desk-queue") || staffList ? (list ? "&" : "?") + "desk=1" : "";
    // An article's page or editor hears of a colleague's save (staff; the server checks).
    const article = body.dataset.staff === "1" && document.querySelector("[data-article]")
      ? (list || desk ? "&" : "?") + "knowledge=1" : "";
    // The ideas board and the roadmap hear of every idea's new count and status.
    const ideas = document.querySelector("[data-ideas]") ? (list || desk || article ? "&" : "?") + "ideas=1" : "";
    // A customer profile hears of colleagues' new tags and notes (staff; the server checks).
    const customer = body.dataset.staff === "1" && document.querySelector("[data-customer]")
      ? (list || desk || article || ideas ? "&" : "?") + "customer=1" : "";
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws" + list + desk + article + ideas + customer;
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
    clearTimeout(state.connectTimer);
    state.connectTimer = setTimeout(() => {
      if (ws.readyState === 0) abandon(ws);
    }, CONNECT_TIMEOUT_MS);
    ws.onopen = () => {
      clearTimeout(state.connectTimer);
      state.attempts = 0;
      alive();
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
      alive();
      let frame;
      try {
        frame = JSON.parse(e.data);
      } catch (err) {
        return;
      }
      handle(frame);
    };
    ws.onclose = (e) => {
      if (state.ws !== ws) return; // given up on already
      lost();
      if (state.leaving) return;
      if (e.code === 4401 || e.code === 1008) checkSession();
      scheduleReconnect();
    };
  }

  // The socket is gone (closed, or given up on): say so at once; what it was sending goes
  // again on the next socket (the server stores a message once per client_id).
  function lost() {
    clearTimeout(state.connectTimer);
    state.ws = null;
    state.probeAt = 0;
    settle(null, "retry");
    setConn(navigator.onLine === false ? "offline" : "reconnecting");
    for (const el of document.querySelectorAll(".msg.pending:not(.failed) .state")) {
      el.textContent = threadEl.dataset.labelWaiting;
    }
  }

  // Give up on a socket that looks open but brings nothing: don't wait for a closing
  // handshake that cannot get through; open a new one.
  function abandon(ws) {
    ws.onopen = ws.onmessage = ws.onclose = null;
    try {
      ws.close();
    } catch (e) {
      /* closing a dead socket may fail: it is dropped either way */
    }
    if (state.ws !== ws) return;
    lost();
    scheduleReconnect();
  }

  function alive() {
    state.heardAt = Date.now();
    state.probeAt = 0;
    // The socket answered: it is live, whatever an offline event said meanwhile.
    if (conn && conn.dataset.state !== "live" && state.ws && state.ws.readyState === 1) setConn("live");
  }

  // Ask the server for an answer now (returning to the app, the network changed, a message
  // was written): a dead socket is given up PONG_TIMEOUT_MS later.
  function probe() {
    if (state.probeAt || !state.ws || state.ws.readyState !== 1) return;
    state.probeAt = Date.now();
    send({ type: "ping", t: state.probeAt });
  }

  function tick() {
    const ws = state.ws;
    if (!ws || ws.readyState !== 1) return;
    const now = Date.now();
    if (state.probeAt) {
      if (now - state.probeAt >= PONG_TIMEOUT_MS) abandon(ws);
    } else if (now - state.heardAt >= (document.hidden ? PING_HIDDEN_MS : PING_EVERY_MS)) {
      probe();
    }
  }

  function scheduleReconnect() {
    clearTimeout(state.timer);
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** state.attempts);
    state.attempts += 1;
    const delay = ceiling / 2 + Math.random() * (ceiling / 2); // jitter spreads a herd
    state.timer = setTimeout(connect, delay);
  }

  // The network came back or the app was brought back: an open socket must prove itself at
  // once (it may have died meanwhile); without one, try now instead of after the backoff.
  function reconnectNow() {
    if (state.ws && state.ws.readyState === 1) {
      state.probeAt = 0;
      probe();
      return;
    }
    if (state.ws && state.ws.readyState === 0) return;
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
    desk: (f) => document.dispatchEvent(new CustomEvent("dreiklang:desk", { detail: f })),
    assigned: onAssigned,
    alert: onAlert,
    idea_status: onIdeaStatus,
    // Someone @mentioned this person: the Mentions badge asks for its count again.
    mentioned: () => document.body.dispatchEvent(new CustomEvent("dreiklang:mentioned")),
    article: (f) => document.body.dispatchEvent(new CustomEvent("dreiklang:article", { detail: f })),
    // An idea's count or status changed: the board and the roadmap update it (ideas.js).
    idea: (f) => document.body.dispatchEvent(new CustomEvent("dreiklang:idea", { detail: f })),
    // A colleague changed a customer's tags or notes: their profile fetches it (customers.js).
    customer: (f) => document.body.dispatchEvent(new CustomEvent("dreiklang:customer", { detail: f })),
    hello: onHello,
    subscribed: ignore,
    unsubscribed: ignore,
    pong: ignore,
  };

  // Thread events, by name: each replaces or adds its fragment (the server rendered it).
  const EVENTS = {
    "message.created": onMessage,
    "message.edited": onMessage,
    "message.deleted": onMessage,
    "message.hidden": onMessage,
    "message.restored": onMessage,
    "message.approved": onMessage,
    "thread.updated": onThreadHead,
    "thread.hidden": onThreadHidden,
    "claim.changed": onClaim,
    "answer.changed": onFragment,
    "answering.changed": onFragment,
    "desk.changed": onFragment,
    "idea.changed": onIdeaPanel,
    "message.helpful": onFragment, // the count alone: the viewer's own mark stays as it is
  };

  function ignore() {}

  // A colleague assigned this person a question: say so on whatever page is open, with a link.
  function onAssigned(f) {
    const toast = document.getElementById("toast");
    if (!toast) return;
    const link = document.createElement("a");
    link.href = "/threads/" + encodeURIComponent(f.thread);
    link.textContent = f.title;
    toast.textContent = toast.dataset.labelAssigned.replace("{name}", f.by) + " ";
    toast.appendChild(link);
    toast.hidden = false;
  }

  // An idea this person voted for or follows has a new status: say so on whatever page is
  // open, with a link (the frame carries the status in their language).
  function onIdeaStatus(f) {
    const toast = document.getElementById("toast");
    if (!toast || !toast.dataset.labelIdea) return;
    const link = document.createElement("a");
    link.href = "/threads/" + encodeURIComponent(f.thread);
    link.textContent = f.title;
    toast.textContent = toast.dataset.labelIdea.replace("{status}", f.label) + " ";
    toast.appendChild(link);
    toast.hidden = false;
  }

  // Moderators: something was flagged or waits for approval. Say so on whatever page is open,
  // with a link to the item in the queue; an open queue reloads its list.
  function onAlert(f) {
    document.body.dispatchEvent(new CustomEvent("dreiklang:alert", { detail: f }));
    const toast = document.getElementById("toast");
    const label = toast && toast.dataset["label" + f.kind.charAt(0).toUpperCase() + f.kind.slice(1)];
    if (!label) return; // "decided": a colleague acted, only the queue needs to know
    const link = document.createElement("a");
    link.href = f.url;
    link.textContent = f.title;
    toast.textContent = label + " ";
    toast.appendChild(link);
    toast.hidden = false;
  }

  // The page was rendered for the person's role at the time; after a role change (the server
  // closed the socket, 4401) it would show controls the person no longer has, or lack new ones.
  function onHello(f) {
    if (Boolean(f.staff) !== (body.dataset.staff === "1")) location.reload();
  }

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
      releasePreviews(old); // a message acked before its event still showed the device's copies
      old.replaceWith(el);
    } else {
      // What this device still has to send comes after everything stored: keep it last.
      const list = document.getElementById("messages");
      list.insertBefore(el, list.querySelector(":scope > .msg.pending"));
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

  // A moderator hid the thread: the head says so; anyone but staff and its author loses the
  // conversation from the screen at once (the server sends them nothing more of it).
  function onThreadHidden(f, el) {
    onThreadHead(f, el);
    if (body.dataset.staff === "1" || el.dataset.author === me) return;
    const list = document.getElementById("messages");
    if (list) list.replaceChildren();
    const composer = document.getElementById("composer");
    if (composer) composer.hidden = true;
  }

  // A fragment with a stable id that the page shows once (the official answer, the desk panel).
  // An idea's panel: ideas.js first keeps this person's vote button (the fragment names nobody).
  function onIdeaPanel(f, el) {
    document.dispatchEvent(new CustomEvent("dreiklang:idea-panel", { detail: el }));
    onFragment(f, el);
  }

  function onFragment(f, el) {
    const old = document.getElementById(el.id);
    if (!old) return;
    old.replaceWith(el);
    if (window.htmx) window.htmx.process(el);
  }

  // "I'm answering" (staff only): replace the claim line; a colleague's claim warns the writer.
  function onClaim(f, el) {
    const old = document.getElementById("claim");
    if (!old) return;
    old.replaceWith(el);
    if (window.htmx) window.htmx.process(el);
    warnIfClaimed();
  }

  // Someone else is answering and this person is writing a reply: say so above the composer.
  function warnIfClaimed() {
    const claim = document.getElementById("claim");
    const input = document.getElementById("body");
    const slot = document.getElementById("claim-warning");
    if (!claim || !input || !slot) return;
    const holder = claim.dataset.author;
    const holds = holder && holder !== me && Date.parse(claim.dataset.until) > Date.now();
    const writing = input.value.trim() !== "";
    const answering = claim.querySelector(".answering");
    slot.hidden = !(holds && writing && answering);
    if (!slot.hidden) slot.textContent = slot.dataset.label.replace("{who}", answering.textContent);
  }

  function onMessage(f, el) {
    const stuckToBottom = nearBottom();
    const editing = document.querySelector("#" + CSS.escape(el.id) + ".editing");
    if (!editing) place(el);
    const pending = document.querySelector('[data-pending="' + CSS.escape(f.client_id || "") + '"]');
    if (pending) {
      releasePreviews(pending);
      pending.remove();
    }
    if (f.name === "message.created") {
      if (state.typingUser && el.dataset.author === state.typingUser) stopTyping();
      state.outbox.delete(f.client_id);
      if (el.dataset.author === me) stored(() => Outbox.remove(f.client_id));
      if (stuckToBottom || el.dataset.author === me) toNewest();
      markReadSoon();
    }
  }

  function onAck(f) {
    if (f.client_id) state.done.add(f.client_id);
    if (f.client_id) stored(() => Outbox.remove(f.client_id));
    settle(f.client_id, "sent");
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
    if (f.client_id && f.code === "internal") {
      settle(f.client_id, "retry"); // the server stumbled: retry on reconnect
      return;
    }
    if (f.client_id) {
      state.done.add(f.client_id);
      stored(() => Outbox.fail(f.client_id, f.message)).then(() => settle(f.client_id, "failed"));
    }
    const item = f.client_id && state.outbox.get(f.client_id);
    if (item) {
      state.outbox.delete(f.client_id);
      showFailed(item.el, f.client_id, item.body, f.message, item.files);
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
    state.typingUser = f.user;
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(stopTyping, TYPING_SHOWN_MS);
  }

  // The typing line goes when the notices stop, or at once when that person's message arrives.
  function stopTyping() {
    clearTimeout(state.typingTimer);
    state.typingUser = null;
    const line = document.getElementById("typing");
    if (line) line.textContent = "";
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

  // A desk notice (staff): a claim or status changed; the list fetches its rows once for a
  // burst of them. (A reconnect's own refresh dispatches one without a thread: skipped.)
  let deskTimer = null;
  document.addEventListener("dreiklang:desk", (e) => {
    if (!e.detail || !e.detail.thread || !document.getElementById("thread-list")) return;
    clearTimeout(deskTimer);
    deskTimer = setTimeout(() => {
      if (window.htmx) window.htmx.ajax("GET", "/threads", { target: "#thread-list", swap: "innerHTML" });
    }, 300);
  });

  function refreshList() {
    document.dispatchEvent(new CustomEvent("dreiklang:desk", { detail: {} })); // missed notices
    if (document.getElementById("thread-list") && window.htmx) {
      window.htmx.ajax("GET", "/threads", { target: "#thread-list", swap: "innerHTML" });
    }
  }

  // A customer's own questions, with their status, at the top of the list: fetched again when
  // one of them changes or a new thread appears (it may be theirs).
  function refreshMine(f) {
    const mine = document.getElementById("my-questions");
    if (!mine || !window.htmx) return;
    if (document.getElementById("mine-" + f.thread) || !document.getElementById("t-" + f.thread)) {
      window.htmx.ajax("GET", "/threads?mine=1", { target: "#my-questions", swap: "outerHTML" });
    }
  }

  function onActivity(f) {
    refreshMine(f);
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

  function pendingElement(clientId, text, files) {
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
    if (files && files.length) li.append(pendingFiles(files));
    return li;
  }

  // A message's photos and files before the server has them: the device's own copies, each
  // with a progress bar for its upload (the stored message brings the server's thumbnails).
  function pendingFiles(files) {
    const list = document.createElement("ul");
    list.className = "attachments pending-attachments";
    for (const f of files) {
      const li = document.createElement("li");
      li.dataset.file = f.client_id;
      const image = /^image\/(jpeg|png|webp|gif|avif)$/.test(f.type) && f.blob;
      li.className = "att " + (image ? "att-image" : "att-file");
      if (image) {
        const img = document.createElement("img");
        img.src = f.preview || URL.createObjectURL(f.blob);
        img.alt = f.name;
        li.append(img);
      } else {
        const icon = document.createElement("span");
        icon.className = "att-icon";
        icon.setAttribute("aria-hidden", "true");
        icon.innerHTML = FILE_ICON;
        const name = document.createElement("span");
        name.className = "att-name";
        name.textContent = f.name;
        const size = document.createElement("span");
        size.className = "att-size";
        size.textContent = fileSize(f.size);
        li.append(icon, name, size);
      }
      const bar = document.createElement("progress");
      bar.max = 1;
      bar.value = f.id ? 1 : 0;
      bar.hidden = Boolean(f.id);
      bar.setAttribute("aria-label", f.name);
      li.append(bar);
      list.append(li);
    }
    return list;
  }

  // A drawn icon, not an emoji: not every phone (or the test machine) has an emoji font.
  const FILE_ICON = '<svg aria-hidden="true" width="24" height="24" viewBox="0 0 24 24"><path d="M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8z M14 2v6h6" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round"/></svg>';
  window.dreiklangFileIcon = FILE_ICON; // attach.js draws the tray's files with it

  // 1.2 MB, 1,2 MB, 340 kB: the device's language formats the number and the unit.
  function fileSize(bytes) {
    const [value, unit] = bytes >= 1e6 ? [bytes / 1e6, "megabyte"] : [Math.max(1, bytes / 1e3), "kilobyte"];
    try {
      return new Intl.NumberFormat(document.documentElement.lang || undefined, { style: "unit", unit, maximumFractionDigits: 1 }).format(value);
    } catch (e) {
      return Math.round(value) + (unit === "megabyte" ? " MB" : " kB");
    }
  }
  window.dreiklangFileSize = fileSize; // the tray (attach.js) shows the same sizes

  // The device's copies shown meanwhile are let go once the message is stored or discarded.
  function releasePreviews(el) {
    for (const img of el.querySelectorAll("img[src^='blob:']")) URL.revokeObjectURL(img.src);
  }

  function sendMessage(item) {
    const frame = { type: "send", thread: item.thread, client_id: item.client_id, body: item.body };
    if (item.audience && item.audience !== "all") frame.audience = item.audience;
    if (item.files && item.files.length) frame.attachments = item.files.map((f) => f.id);
    return send(frame);
  }

  // The composer's audience ("all", or "staff" for a staff note), where it offers a choice.
  function audienceOf(form) {
    const field = form.elements.namedItem("audience");
    return (field && field.value) || "all";
  }

  function enterSends() {
    return Boolean(window.matchMedia && window.matchMedia(KEYBOARD_POINTER).matches);
  }

  // -- the outbox: kept on the device until the server acknowledges -------------------

  // IndexedDB can be missing (private windows); the page then still works, just not offline.
  function stored(fn) {
    if (typeof Outbox === "undefined") return Promise.resolve(undefined);
    return fn().catch(() => undefined);
  }

  // What is still to be sent, in the order it was written: the device's outbox (every thread),
  // then this page's messages that could not be kept there (no IndexedDB).
  async function outboxInOrder() {
    const items = ((await stored(() => Outbox.all())) || []).slice();
    const kept = new Set(items.map((i) => i.client_id));
    for (const [clientId, m] of state.outbox) {
      if (!kept.has(clientId)) items.push({ client_id: clientId, ...m, el: undefined, state: "waiting", unkept: true });
    }
    return items.filter((i) => i.state !== "failed" && !state.done.has(i.client_id));
  }

  // Send the outbox one message at a time, each after the answer to the one before, so the
  // server stores them in the order they were written, whatever happens to the socket between.
  async function flushOutbox() {
    showWorkerRefusals();
    if (state.pumping) {
      state.pumpAgain = true;
      return;
    }
    state.pumping = true;
    try {
      do {
        state.pumpAgain = false;
        await pump();
      } while (state.pumpAgain);
    } finally {
      state.pumping = false;
    }
  }

  async function pump() {
    for (;;) {
      const ws = state.ws;
      if (!ws || ws.readyState !== 1) return; // the next socket starts again
      const [item] = await outboxInOrder();
      if (!item) return;
      for (const el of document.querySelectorAll(".msg.pending:not(.failed) .state")) {
        el.textContent = threadEl.dataset.labelSending;
      }
      // Its files first: the message goes once every one of them is stored.
      const files = await deliverFiles(item);
      if (files === "retry") {
        retryUploadsLater();
        return;
      }
      if (files === "failed") continue;
      state.uploadBackoff = 0;
      if (state.ws !== ws) return; // the socket went while uploading: the next one sends it
      const result = await new Promise((resolve) => {
        state.waiting = { clientId: item.client_id, resolve };
        if (state.ws !== ws || !sendMessage(item)) settle(item.client_id, "retry");
      });
      if (result === "retry") return;
      // Refused ones stay, marked failed (onError); stored ones go before the next is read.
      if (result === "sent") await stored(() => Outbox.remove(item.client_id));
    }
  }

  // Upload the files of an outbox item the server does not have yet: "ok" (all stored, their
  // ids kept in the item so no later flush uploads them again), "failed" (the server refused
  // one: the item fails visibly, with the server's reason), or "retry" (no network, or the
  // server stumbled: the item waits, and so does everything written after it).
  async function deliverFiles(item) {
    const missing = (item.files || []).filter((f) => !f.id);
    if (!missing.length) return "ok";
    const el = document.querySelector('[data-pending="' + CSS.escape(item.client_id) + '"]');
    const answers = await Promise.all(missing.map((f) => {
      const bar = el && el.querySelector('[data-file="' + CSS.escape(f.client_id) + '"] progress');
      if (bar) bar.hidden = false;
      return Outbox.upload(item.thread, f, item.csrf, (loaded, total) => {
        if (bar) bar.value = total ? loaded / total : 0;
      });
    }));
    const ids = {};
    let refusal = null;
    let retry = false;
    answers.forEach((a, i) => {
      const f = missing[i];
      if (a.ok) {
        f.id = ids[f.client_id] = a.attachment.id;
        const bar = el && el.querySelector('[data-file="' + CSS.escape(f.client_id) + '"] progress');
        if (bar) bar.hidden = true;
      } else if (Outbox.refused(a)) {
        refusal = refusal || f.name + ": " + a.message;
      } else {
        retry = true;
      }
    });
    if (Object.keys(ids).length) {
      const withIds = (it) => ({ ...it, files: it.files.map((f) => (ids[f.client_id] ? { ...f, id: ids[f.client_id] } : f)) });
      if (!item.unkept) await stored(() => Outbox.update(item.client_id, withIds));
      const mine = state.outbox.get(item.client_id);
      if (mine && mine.files) mine.files = withIds(mine).files;
    }
    if (refusal) {
      state.done.add(item.client_id);
      await stored(() => Outbox.fail(item.client_id, refusal));
      const mine = state.outbox.get(item.client_id);
      state.outbox.delete(item.client_id);
      if (el) showFailed(el, item.client_id, item.body, refusal, mine ? mine.files : item.files);
      return "failed";
    }
    return retry ? "retry" : "ok";
  }

  // Uploads that could not go (no network while the socket reconnects, or the server's
  // storage away for a moment) are tried again, less often each time; the worker may too.
  function retryUploadsLater() {
    clearTimeout(state.uploadRetry);
    const delay = Math.min(BACKOFF_MAX_MS, 2000 * 2 ** state.uploadBackoff);
    state.uploadBackoff += 1;
    state.uploadRetry = setTimeout(flushOutbox, delay);
    requestSync();
  }

  // The answer to the outbox item in flight ("sent", "failed", or "retry"); null: whichever.
  function settle(clientId, result) {
    const w = state.waiting;
    if (!w || (clientId !== null && w.clientId !== clientId)) return;
    state.waiting = null;
    w.resolve(result);
  }

  // The worker delivers the outbox too (Background Sync, sw.js), also while this page is open:
  // what the server refused it (a file it does not take, a closed thread) shows failed here too.
  async function showWorkerRefusals() {
    for (const [clientId, m] of state.outbox) {
      const item = await stored(() => Outbox.get(clientId));
      if (!item || item.state !== "failed" || !state.outbox.has(clientId)) continue;
      state.done.add(clientId);
      state.outbox.delete(clientId);
      showFailed(m.el, clientId, m.body, item.reason || "", item.files);
    }
  }
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.addEventListener("message", (e) => {
      if (e.data && e.data.type === "outbox-flushed") showWorkerRefusals();
    });
  }

  // Background Sync lets the service worker deliver the outbox after the page is closed.
  function requestSync() {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.ready
      .then((reg) => reg.sync && reg.sync.register("outbox"))
      .catch(() => undefined);
  }

  function showFailed(el, clientId, text, reason, files) {
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
      // Its photos and files go back into the tray with it (a refused one says why again).
      if (files && files.length) withTray((tray) => tray.restore(files));
      discard();
    });
    const drop = document.createElement("button");
    drop.type = "button";
    drop.className = "link danger";
    drop.textContent = threadEl.dataset.labelDiscard;
    drop.addEventListener("click", () => discard());
    const discard = () => {
      releasePreviews(el);
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
        state.done.add(item.client_id);
        stored(() => Outbox.remove(item.client_id)); // delivered while we were away
        continue;
      }
      if (state.outbox.has(item.client_id)) continue;
      const el = pendingElement(item.client_id, item.body, item.files);
      document.getElementById("messages").appendChild(el);
      if (item.state === "failed") {
        showFailed(el, item.client_id, item.body, item.reason || "", item.files);
      } else {
        state.outbox.set(item.client_id, { body: item.body, el, thread: item.thread, audience: item.audience, files: item.files });
      }
    }
  }

  // The tray of photos and files (attach.js) loads with the first one: most visits send none,
  // so a thread opens without it (it is in the offline shell all the same). Files handed over
  // while it loads join it in the order they came.
  let trayLoading = null;
  function withTray(fn) {
    const tray = document.getElementById("attach-tray");
    if (!tray) return;
    if (!trayLoading) {
      trayLoading = new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = tray.dataset.src;
        script.onload = () => resolve(window.DreiklangAttach);
        script.onerror = () => {
          trayLoading = null; // offline before the shell was saved: try again next time
          reject(new Error("attach.js did not load"));
        };
        document.head.append(script);
      });
    }
    trayLoading.then(fn, () => undefined);
  }

  // No composer for someone who may not write here (muted, or a locked thread).
  const composerForm = threadEl && document.getElementById("composer");
  if (composerForm) {
    const form = composerForm;
    const input = document.getElementById("body");
    const attach = () => window.DreiklangAttach; // attach.js: the tray of photos and files
    const attaching = () => Boolean(attach() && attach().count());
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (trayLoading && !attach()) {
        trayLoading.then(() => form.requestSubmit(), () => undefined); // a file just picked goes with it
        return;
      }
      const text = input.value.trim();
      if (!text && !attaching()) return; // a photo may go without a caption, nothing may not
      if (!LengthLimit.check(input)) {
        input.reportValidity();
        return;
      }
      if (attaching() && attach().blocked()) return; // a refused file: retry or remove it first
      const files = attaching() ? attach().take() : [];
      const clientId = newClientId();
      const el = pendingElement(clientId, text, files);
      if (audienceOf(form) === "staff") el.classList.add("staff-note"); // a note looks like one at once
      document.getElementById("messages").appendChild(el);
      toNewest();
      const audience = audienceOf(form);
      const csrf = JSON.parse(body.getAttribute("hx-headers") || "{}")["x-csrftoken"] || "";
      // Keep it on the device first, so closing the app cannot lose it; then send it after
      // whatever was written before it. Its images are being shrunk still (a moment): the
      // messages sent meanwhile wait for it, so the outbox keeps the order they were sent in.
      state.adding = state.adding.then(async () => {
        await Promise.all(files.map((f) => f.ready));
        const kept = files.map((f) => ({ client_id: f.client_id, name: f.name, type: f.type, size: f.size, blob: f.blob, id: f.id }));
        const item = { client_id: clientId, thread: threadId, body: text, audience, csrf, created: Date.now(), state: "waiting" };
        if (kept.length) item.files = kept;
        state.outbox.set(clientId, { body: text, el, thread: threadId, audience, files: item.files });
        await stored(() => Outbox.add(item));
        if (state.ws && state.ws.readyState === 1) {
          flushOutbox();
          probe(); // a message in flight on a dead socket is noticed within PONG_TIMEOUT_MS
        } else {
          requestSync();
        }
      });
      input.value = "";
      LengthLimit.check(input);
      grow();
      input.focus();
    });
    input.addEventListener("keydown", (e) => {
      if (e.key !== "Enter" || e.isComposing) return;
      if (!e.shiftKey && !input.value.trim() && !attaching() && (e.ctrlKey || e.metaKey || enterSends())) {
        e.preventDefault(); // nothing to send: neither a new line nor a "fill in" bubble
        return;
      }
      // With a keyboard and mouse, Enter sends and Shift+Enter starts a new line; on a touch
      // screen Enter is the new line (sending is the button). Ctrl/Cmd+Enter sends on both.
      if (e.ctrlKey || e.metaKey || (!e.shiftKey && !e.altKey && enterSends())) {
        e.preventDefault();
        form.requestSubmit();
      }
    });
    // Photos and files: the 📎 button opens the picker (camera and library on a phone); a file
    // dropped on the thread or pasted into the text joins them too (a desk).
    const picker = document.getElementById("attach-input");
    const attachButton = document.getElementById("attach-button");
    if (picker && attachButton) {
      attachButton.addEventListener("click", () => picker.click());
      picker.addEventListener("change", () => {
        const picked = [...picker.files];
        picker.value = ""; // the same photo can be picked again
        withTray((tray) => tray.add(picked));
        input.focus();
      });
      const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes("Files");
      threadEl.addEventListener("dragover", (e) => {
        if (!hasFiles(e)) return;
        e.preventDefault(); // allows the drop
        form.classList.add("dropping");
      });
      threadEl.addEventListener("dragleave", (e) => {
        if (!threadEl.contains(e.relatedTarget)) form.classList.remove("dropping");
      });
      threadEl.addEventListener("drop", (e) => {
        form.classList.remove("dropping");
        if (!hasFiles(e)) return;
        e.preventDefault(); // not: the browser opens the file instead of the app
        const dropped = [...e.dataTransfer.files];
        withTray((tray) => tray.add(dropped));
      });
      input.addEventListener("paste", (e) => {
        const pasted = e.clipboardData ? [...e.clipboardData.files] : [];
        if (!pasted.length) return;
        withTray((tray) => tray.add(pasted));
        // A screenshot comes as a file alone; copied from a page it may bring its text: keep that.
        if (![...e.clipboardData.types].includes("text/plain")) e.preventDefault();
      });
    }
    const grow = () => {
      input.style.height = "auto";
      input.style.height = Math.min(input.scrollHeight + 2, window.innerHeight * 0.4) + "px";
    };
    input.addEventListener("input", () => {
      grow();
      warnIfClaimed();
      const now = Date.now();
      if (now - state.typedAt > TYPING_EVERY_MS && send({ type: "typing", thread: threadId, audience: audienceOf(form) })) {
        state.typedAt = now;
      }
    });
    restoreOutbox().then(toLanding);
    toLanding();
  } else if (threadEl) {
    toLanding();
  }

  localTimes(document);
  document.body.addEventListener("htmx:afterSwap", (e) => localTimes(e.target));
  window.addEventListener("online", reconnectNow);
  window.addEventListener("offline", () => {
    setConn("offline");
    reconnectNow(); // an open socket may have died with the network: it must answer
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) {
      reconnectNow();
      if (threadId) markReadSoon();
    }
  });
  setInterval(tick, TICK_MS);
  connect();
})();
