// Shared by every console page: the API client, DOM building without HTML parsing,
// the header, and the live WebSocket. Data is only ever put in the page through
// textContent or attributes set one by one: never innerHTML.
"use strict";

const Konsol = (() => {
  let csrf = "";
  let me = null;

  /** Create an element; strings among the children become text nodes. */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "className") node.className = value;
      else if (key === "text") node.textContent = String(value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key in node && typeof value !== "string") node[key] = value;
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function request(method, path, body) {
    const options = { method, credentials: "same-origin", headers: {} };
    if (method !== "GET") {
      options.headers["X-CSRF-Token"] = csrf;
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body || {});
    }
    const response = await fetch(path, options);
    if (response.status === 401) {
      window.location.href = "login";
      throw new ApiError(401, "login required");
    }
    let data = {};
    try {
      data = await response.json();
    } catch (_error) {
      data = {};
    }
    if (!response.ok) throw new ApiError(response.status, data.error || response.statusText);
    return data;
  }

  const get = (path) => request("GET", path);
  const post = (path, body) => request("POST", path, body);

  /** "3 mnt 05 dtk", "1 jam 02 mnt". */
  function duration(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const pad = (n) => String(n).padStart(2, "0");
    if (h > 0) return `${h} jam ${pad(m)} mnt`;
    return `${m} mnt ${pad(s % 60)} dtk`;
  }

  function time(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    return date.toLocaleString("id-ID", { dateStyle: "short", timeStyle: "medium" });
  }

  const LANGUAGES = { id: "Indonesia", min: "Minang" };
  const CHANNELS = { telegram: "Telegram", whatsapp: "WhatsApp", web: "Web" };

  function header(active) {
    const top = document.getElementById("top");
    clear(top);
    const link = (href, label, name) =>
      el("a", { href, className: name === active ? "active" : "", id: `nav-${name}` }, label);
    const logout = el("button", { id: "logout-button", type: "button", className: "secondary" }, "Keluar");
    logout.addEventListener("click", async () => {
      try {
        await post("logout");
      } finally {
        window.location.href = "login";
      }
    });
    top.append(
      el("span", { className: "brand" }, "Konsol Petugas Kota Padang"),
      el(
        "nav",
        {},
        link("./", "Antrean", "queue"),
        link("complaints", "Pengaduan", "complaints"),
        me.role === "supervisor" ? link("supervisor", "Supervisor", "supervisor") : null,
      ),
      el("span", { id: "whoami", className: "who" }, `${me.display_name} (${me.role})`),
      logout,
    );
  }

  async function start(active) {
    me = await get("api/me");
    csrf = me.csrf;
    header(active);
    return me;
  }

  /** Open the live socket; call onEvent(event) for each event, reconnect on loss. */
  function live(onEvent, onState) {
    let socket = null;
    let pinger = null;
    let retry = 1000;
    const connect = () => {
      const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
      const base = window.location.pathname.replace(/[^/]*$/, "");
      socket = new WebSocket(`${scheme}//${window.location.host}${base}ws`);
      socket.addEventListener("open", () => {
        retry = 1000;
        if (onState) onState(true);
        pinger = window.setInterval(() => {
          socket.send(JSON.stringify({ type: "ping", csrf }));
        }, 20000);
      });
      socket.addEventListener("message", (message) => {
        let event = null;
        try {
          event = JSON.parse(message.data);
        } catch (_error) {
          return;
        }
        onEvent(event);
      });
      socket.addEventListener("close", () => {
        if (onState) onState(false);
        window.clearInterval(pinger);
        window.setTimeout(connect, retry);
        retry = Math.min(retry * 2, 15000);
      });
    };
    connect();
  }

  return { el, clear, get, post, ApiError, duration, time, start, live, LANGUAGES, CHANNELS };
})();
