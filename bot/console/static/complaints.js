// The complaints page: filter by status, category and kecamatan; change a status.
"use strict";

(() => {
  const { el, clear, get, post, time } = Konsol;
  const $ = (id) => document.getElementById(id);
  let filled = false;

  function fillFilters(data) {
    if (filled) return;
    filled = true;
    data.statuses.forEach((s) => $("filter-status").append(el("option", { value: s }, s)));
    data.categories.forEach((c) => $("filter-category").append(el("option", { value: c.code }, c.label || c.code)));
    data.kecamatan.forEach((k) => $("filter-kecamatan").append(el("option", { value: k }, k)));
  }

  function statusForm(complaint, statuses) {
    const select = el("select", { className: "status-select", "aria-label": "Status baru" });
    statuses.forEach((s) => select.append(el("option", { value: s, selected: s === complaint.status }, s)));
    const note = el("input", { className: "status-note", placeholder: "keterangan (opsional)", maxlength: "500" });
    const button = el("button", { type: "submit", className: "secondary" }, "Ubah");
    const form = el("form", { className: "status-form" }, select, note, button);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      $("complaint-error").textContent = "";
      try {
        await post(`api/complaints/${encodeURIComponent(complaint.ticket)}/status`, { status: select.value, note: note.value });
      } catch (error) {
        $("complaint-error").textContent = error.message;
      }
      await load();
    });
    return form;
  }

  function row(c, statuses) {
    const history = el("ol", { className: "history" });
    c.history.forEach((h) =>
      history.append(el("li", {}, `${h.status} · ${time(h.at)}${h.by ? ` · ${h.by}` : ""}${h.note ? ` · ${h.note}` : ""}`)),
    );
    return el(
      "tr",
      { "data-ticket": c.ticket },
      el("td", { className: "ticket" }, c.ticket),
      el("td", {}, time(c.created_at)),
      el("td", {}, c.category),
      el("td", {}, c.kecamatan || "–"),
      el("td", {}, c.location),
      el("td", { className: "text" }, c.description),
      el("td", { className: `status status-${c.status}` }, c.status),
      el("td", {}, history),
      el("td", {}, statusForm(c, statuses)),
    );
  }

  async function load() {
    const params = new URLSearchParams();
    for (const [name, id] of [["status", "filter-status"], ["category", "filter-category"], ["kecamatan", "filter-kecamatan"]]) {
      if ($(id).value) params.set(name, $(id).value);
    }
    const data = await get(`api/complaints?${params}`);
    fillFilters(data);
    $("complaint-total").textContent = String(data.total);
    const body = $("complaint-rows");
    clear(body);
    data.complaints.forEach((c) => body.append(row(c, data.statuses)));
    if (!data.complaints.length) body.append(el("tr", {}, el("td", { colspan: "9", className: "muted" }, "Tidak ada pengaduan.")));
  }

  document.addEventListener("DOMContentLoaded", async () => {
    await Konsol.start("complaints");
    for (const id of ["filter-status", "filter-category", "filter-kecamatan"]) $(id).addEventListener("change", load);
    await load();
    Konsol.live((event) => {
      if (event.type === "complaint") load();
    });
  });
})();
