// The supervisor's page: queue figures, per-agent and per-category/kecamatan charts
// drawn as inline SVG by this script, and the audit log.
"use strict";

(() => {
  const { el, clear, get, duration, time } = Konsol;
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  /** Horizontal bars: rows of [label, value] (or [label, v1, v2] for two series). */
  function barChart(container, rows, { series = 1 } = {}) {
    clear(container);
    if (!rows.length) {
      container.append(el("p", { className: "muted" }, "Belum ada data."));
      return;
    }
    const labelWidth = 170;
    const barArea = 300;
    const rowHeight = series === 2 ? 30 : 22;
    const height = rows.length * rowHeight + 10;
    const max = Math.max(1, ...rows.flatMap((r) => r.slice(1)));
    const chart = svg("svg", { width: labelWidth + barArea + 60, height, role: "img", class: "chart" });
    rows.forEach((r, i) => {
      const y = i * rowHeight + 5;
      chart.append(svg("text", { x: labelWidth - 6, y: y + 14, "text-anchor": "end", class: "chart-label" }, r[0]));
      for (let s = 0; s < series; s += 1) {
        const value = r[1 + s];
        const barHeight = series === 2 ? 12 : 16;
        const by = y + s * 13;
        const width = Math.round((value / max) * barArea);
        chart.append(svg("rect", { x: labelWidth, y: by, width: Math.max(width, 1), height: barHeight, class: `bar bar-${s}` }));
        chart.append(svg("text", { x: labelWidth + width + 4, y: by + barHeight - 2, class: "chart-value" }, value));
      }
    });
    container.append(chart);
  }

  async function load() {
    const stats = await get("api/stats");
    $("fig-queue").textContent = String(stats.queue.length);
    $("fig-longest").textContent = duration(stats.queue.longest_seconds);
    $("fig-mean").textContent = duration(stats.queue.mean_seconds);
    $("fig-survey").textContent = stats.survey.answers
      ? `${stats.survey.mean.toFixed(1)} / 5 (${stats.survey.answers})`
      : "belum ada";
    barChart($("chart-waits"), stats.queue.waits_seconds.map((s, i) => [`#${i + 1}`, Math.round(s / 6) / 10]).reverse());
    barChart($("chart-agents"), stats.agents.map((a) => [a.agent, a.active, a.handled_7d]), { series: 2 });
    barChart($("chart-categories"), Object.entries(stats.complaints_by_category));
    barChart($("chart-kecamatan"), Object.entries(stats.complaints_by_kecamatan));
    const audit = (await get("api/audit")).audit;
    const body = $("audit-rows");
    clear(body);
    audit.forEach((a) =>
      body.append(
        el("tr", {}, el("td", {}, time(a.at)), el("td", {}, a.agent || "–"), el("td", {}, a.action), el("td", {}, a.subject), el("td", {}, a.ip || ""), el("td", {}, JSON.stringify(a.detail))),
      ),
    );
  }

  document.addEventListener("DOMContentLoaded", async () => {
    await Konsol.start("supervisor");
    await load();
    let timer = null;
    Konsol.live(() => {
      window.clearTimeout(timer);
      timer = window.setTimeout(load, 500);
    });
    window.setInterval(load, 30000);
  });
})();
