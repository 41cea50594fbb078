// The queue and the conversation page: claim, read, reply, notes, hand back, close.
"use strict";

(() => {
  const { el, clear, get, post, duration, time, LANGUAGES, CHANNELS } = Konsol;
  const REASONS = {
    requested: "warga minta petugas",
    fallback: "bot tidak paham dua kali",
    emergency: "darurat",
    lookup_limit: "pencarian gagal berulang",
    action: "diteruskan oleh aksi",
  };
  const AUTHORS = { resident: "Warga", bot: "Bot", agent: "Petugas", system: "Sistem" };
  const DELIVERY = {
    pending: "menunggu kirim",
    sent: "terkirim",
    failed: "gagal",
    unreachable: "warga tidak terjangkau",
    delivered: "diterima",
    read: "dibaca",
  };

  let me = null;
  let current = null; // id of the open conversation
  let currentData = null;
  let queueData = { waiting: [], active: [] };
  let queueFetchedAt = Date.now();
  let canned = [];

  const $ = (id) => document.getElementById(id);

  function waitingText(item) {
    if (item.mode !== "waiting" || item.waiting_seconds === null) return "";
    return duration(item.waiting_seconds + (Date.now() - queueFetchedAt) / 1000);
  }

  function queueItem(item) {
    const li = el(
      "li",
      {
        className: `item${item.id === current ? " selected" : ""}`,
        "data-conversation": item.id,
        tabindex: "0",
      },
      el("span", { className: "name" }, item.name || item.id),
      el(
        "span",
        { className: "meta" },
        `${CHANNELS[item.channel] || item.channel} · ${LANGUAGES[item.language] || item.language}`,
        item.reason ? ` · ${REASONS[item.reason] || item.reason}` : "",
        item.agent && item.mode === "agent" ? ` · ${item.agent}` : "",
      ),
      el("span", { className: "wait", "data-wait": "1" }, waitingText(item)),
    );
    li.addEventListener("click", () => openConversation(item.id));
    li.addEventListener("keydown", (event) => {
      if (event.key === "Enter") openConversation(item.id);
    });
    li.waitingItem = item;
    return li;
  }

  function renderQueue() {
    const waiting = $("waiting-list");
    const active = $("active-list");
    clear(waiting);
    clear(active);
    queueData.waiting.forEach((item) => waiting.append(queueItem(item)));
    queueData.active.forEach((item) => active.append(queueItem(item)));
    if (!queueData.waiting.length) waiting.append(el("li", { className: "muted" }, "Tidak ada yang menunggu."));
    $("waiting-count").textContent = String(queueData.waiting.length);
  }

  function tickWaits() {
    document.querySelectorAll("#waiting-list li.item").forEach((li) => {
      const span = li.querySelector("[data-wait]");
      if (span && li.waitingItem) span.textContent = waitingText(li.waitingItem);
    });
  }

  async function loadQueue() {
    queueData = await get("api/queue");
    queueFetchedAt = Date.now();
    renderQueue();
  }

  function osmLink(location) {
    const lat = Number(location.latitude).toFixed(6);
    const lon = Number(location.longitude).toFixed(6);
    return el(
      "a",
      {
        href: `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=17/${lat}/${lon}`,
        target: "_blank",
        rel: "noopener noreferrer",
        className: "location",
      },
      `Lokasi ${lat}, ${lon} (OpenStreetMap)`,
    );
  }

  function deliveryText(deliveries) {
    if (!deliveries.length) return null;
    const words = deliveries.map((d) => DELIVERY[d.status] || DELIVERY[d.state] || d.status || d.state);
    return el("span", { className: `delivery state-${deliveries[deliveries.length - 1].state}` }, words.join(", "));
  }

  function messageItem(message) {
    const body = el("div", { className: "body" });
    if (message.text) body.append(el("p", { className: "text" }, message.text));
    const data = message.data || {};
    if (data.location) body.append(el("p", {}, osmLink(data.location)));
    for (const media of data.media || []) {
      body.append(
        el(
          "p",
          {},
          el(
            "a",
            { href: media.url, target: "_blank", rel: "noopener", className: "photo" },
            el("img", { src: media.url, alt: "Foto dari warga", className: "thumb" }),
            "Buka foto",
          ),
        ),
      );
    }
    if (data.buttons && data.buttons.length) {
      body.append(el("p", { className: "buttons muted" }, `Pilihan: ${data.buttons.join(" | ")}`));
    }
    if (data.contact) body.append(el("p", { className: "muted" }, `Kontak: ${data.contact}`));
    const who = message.author === "agent" && message.agent ? `Petugas ${message.agent}` : AUTHORS[message.author] || message.author;
    return el(
      "li",
      { className: `msg author-${message.author}`, "data-message": String(message.id) },
      el("div", { className: "meta" }, `${who} · ${time(message.at)}`, message.kind !== "text" ? ` · ${message.kind}` : "", " ", deliveryText(message.delivery || [])),
      body,
    );
  }

  function renderConversation() {
    const data = currentData;
    $("empty-state").hidden = true;
    $("conversation").hidden = false;
    const c = data.conversation;
    $("conv-title").textContent = c.name || c.id;
    const modes = { waiting: "menunggu petugas", agent: `ditangani ${c.agent || ""}`, bot: "dilayani bot", closed: "ditutup" };
    $("conv-meta").textContent = [
      c.id,
      CHANNELS[c.channel] || c.channel,
      `bahasa ${LANGUAGES[c.language] || c.language}`,
      c.reason ? `alasan: ${REASONS[c.reason] || c.reason}` : "",
      modes[c.mode] || c.mode,
      c.unreachable ? "warga tidak terjangkau" : "",
    ].filter(Boolean).join(" · ");
    const mine = c.mode === "agent" && (c.agent === me.username || me.role === "supervisor");
    $("claim-button").hidden = c.mode !== "waiting";
    $("handback-button").hidden = !mine;
    $("close-button").hidden = !mine;
    $("survey-check").parentElement.hidden = !mine;
    $("reply-form").hidden = !mine;
    const list = $("transcript");
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    clear(list);
    data.messages.forEach((m) => list.append(messageItem(m)));
    if (nearBottom || list.dataset.conversation !== c.id) list.scrollTop = list.scrollHeight;
    list.dataset.conversation = c.id;
    const notes = $("notes-list");
    clear(notes);
    data.notes.forEach((n) =>
      notes.append(el("li", { className: "note" }, el("span", { className: "meta" }, `${n.agent} · ${time(n.at)}`), el("p", { className: "text" }, n.text))),
    );
    if (!data.notes.length) notes.append(el("li", { className: "muted" }, "Belum ada catatan."));
  }

  async function loadConversation() {
    if (!current) return;
    try {
      currentData = await get(`api/conversations/${encodeURIComponent(current)}`);
      renderConversation();
    } catch (error) {
      if (error.status === 404) {
        showError("Percakapan ini tidak lagi terlihat oleh Anda.");
        current = null;
        $("conversation").hidden = true;
        $("empty-state").hidden = false;
      } else showError(error.message);
    }
  }

  function showError(text) {
    $("conv-error").textContent = text || "";
  }

  async function openConversation(id) {
    current = id;
    showError("");
    renderQueue();
    await loadConversation();
  }

  async function act(path, body, okText) {
    showError("");
    try {
      await post(`api/conversations/${encodeURIComponent(current)}/${path}`, body);
      if (okText) showError(okText);
    } catch (error) {
      if (error.status === 409 && path === "claim") showError("Percakapan ini sudah diambil petugas lain.");
      else showError(error.message);
    }
    await Promise.all([loadConversation(), loadQueue()]);
  }

  function fillCanned() {
    const select = $("canned-select");
    const groups = { id: el("optgroup", { label: "Bahasa Indonesia" }), min: el("optgroup", { label: "Baso Minang" }) };
    canned.forEach((c) => groups[c.language]?.append(el("option", { value: String(c.id) }, c.title)));
    select.append(groups.id, groups.min);
    select.addEventListener("change", () => {
      const chosen = canned.find((c) => String(c.id) === select.value);
      if (chosen) $("reply-text").value = chosen.text;
      select.value = "";
      $("reply-text").focus();
    });
  }

  function bind() {
    $("claim-button").addEventListener("click", () => act("claim"));
    $("handback-button").addEventListener("click", () => act("handback", {}, "Percakapan dikembalikan ke bot."));
    $("close-button").addEventListener("click", () => act("close", { survey: $("survey-check").checked }, "Percakapan ditutup."));
    $("reply-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = $("reply-text").value.trim();
      if (!text) return;
      $("reply-button").disabled = true;
      try {
        await post(`api/conversations/${encodeURIComponent(current)}/reply`, { text });
        $("reply-text").value = "";
      } catch (error) {
        showError(error.message);
      } finally {
        $("reply-button").disabled = false;
      }
      await loadConversation();
    });
    $("note-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = $("note-text").value.trim();
      if (!text) return;
      try {
        await post(`api/conversations/${encodeURIComponent(current)}/note`, { text });
        $("note-text").value = "";
      } catch (error) {
        showError(error.message);
      }
      await loadConversation();
    });
  }

  function alertFlag(event) {
    const reason = event.reason === "emergency" ? "DARURAT" : `Perhatian (${event.reason || "tanda"})`;
    const li = el(
      "li",
      { className: "alert", "data-conversation": event.conversation_id, role: "alert" },
      `${reason}: ${event.conversation_id} (${time(new Date().toISOString())}) `,
    );
    const open = el("button", { type: "button", className: "secondary" }, "Buka");
    open.addEventListener("click", () => openConversation(event.conversation_id));
    const dismiss = el("button", { type: "button", className: "secondary" }, "Tutup");
    dismiss.addEventListener("click", () => li.remove());
    li.append(open, " ", dismiss);
    $("alerts").prepend(li);
  }

  let reloadTimer = null;
  let queueTimer = null;
  function onEvent(event) {
    if (event.type === "hello") return;
    if (event.type === "flag") alertFlag(event);
    if (current && event.conversation_id === current && event.type !== "complaint") {
      // Coalesce bursts (a reply split in pieces, several delivery states) into one fetch.
      window.clearTimeout(reloadTimer);
      reloadTimer = window.setTimeout(loadConversation, 100);
    }
    const listed = [...queueData.waiting, ...queueData.active].some((c) => c.id === event.conversation_id);
    if (event.type === "conversation" || (event.type === "message" && listed)) {
      // Debounced: a busy city sends many events; the queue is fetched at most 5x/s.
      window.clearTimeout(queueTimer);
      queueTimer = window.setTimeout(loadQueue, 200);
    }
  }

  document.addEventListener("DOMContentLoaded", async () => {
    me = await Konsol.start("queue");
    bind();
    canned = (await get("api/canned")).canned;
    fillCanned();
    await loadQueue();
    const wanted = new URLSearchParams(window.location.search).get("c");
    if (wanted) openConversation(wanted);
    Konsol.live(onEvent, (up) => {
      $("live-state").textContent = up ? "Terhubung langsung." : "Koneksi langsung terputus, menyambung ulang…";
      document.body.dataset.live = up ? "1" : "0";
      if (up) {
        loadQueue();
        loadConversation();
      }
    });
    window.setInterval(tickWaits, 1000);
    window.setInterval(loadQueue, 30000);
  });
})();
