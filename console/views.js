// The console's views. Each view is `{ title, mount(root, ctx), refresh() }`: `mount` builds its controls once,
// `refresh` re-reads the API and redraws the data part only (so a filter being typed keeps its focus).
// `ctx` carries `act(method, path, body, what)` (an action with the admin token; shows the outcome) and `show`.

import { get } from "./api.js";

const PHASES = ["initial", "dual_read", "dual_read_write", "cutting_over", "completed"];
const STEPS = ["connect", "metadata", "endpoints", "grayscale", "completed"];

/** HTML-escape any value. */
export function esc(v) {
  return String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function phaseBadge(p) {
  return `<span class="phase phase-${esc(p)}">${esc(p)}</span>`;
}

function ago(ms) {
  if (ms == null) return "";
  if (ms < 1000) return `${ms} ms ago`;
  if (ms < 120000) return `${Math.round(ms / 1000)} s ago`;
  return `${Math.round(ms / 60000)} min ago`;
}

function num(v) {
  return v == null ? "–" : Number(v).toLocaleString("en-US");
}

/** A list of checks: failing ones first, each with its detail. */
export function checksHtml(checks, onlyFailing = false) {
  if (!checks || checks.length === 0) return "";
  const list = onlyFailing ? checks.filter((c) => !c.passed) : checks;
  const sorted = [...list].sort((a, b) => Number(a.passed) - Number(b.passed));
  return `<ul class="checks">${sorted
    .map(
      (c) =>
        `<li class="${c.passed ? "pass" : "fail"}" data-check="${esc(c.code)}"><span class="mark">${c.passed ? "✓" : "✗"}</span> <code>${esc(c.code)}</code>${c.detail ? ` <span class="detail">${esc(c.detail)}</span>` : ""}</li>`,
    )
    .join("")}</ul>`;
}

function el(root, sel) {
  return root.querySelector(sel);
}

// ---------------------------------------------------------------------------------------------------------------
// Task

/** Steps 1–5, what blocks the next, pause/resume, the architecture picture and the endpoints per topic. */
export function taskView() {
  let root;
  let ctx;
  return {
    title: "Task",
    mount(r, c) {
      root = r;
      ctx = c;
      root.innerHTML = `<section id="task-body"></section><section><h2>Architecture</h2><div id="arch"></div></section>
        <section><h2>Endpoints</h2><div id="endpoints"></div></section>`;
      root.addEventListener("click", async (e) => {
        const b = e.target.closest("button[data-task]");
        if (!b) return;
        const what = b.dataset.task;
        if (what === "advance") {
          await ctx.act("POST", "/v1/task/advance", { expected: b.dataset.expected }, "task advance");
        } else if (what === "pause") {
          const reason = el(root, "#pause-reason").value.trim();
          await ctx.act("POST", "/v1/task/pause", reason ? { reason } : {}, "task pause");
        } else if (what === "resume") {
          await ctx.act("POST", "/v1/task/resume", {}, "task resume");
        }
        this.refresh();
      });
    },
    async refresh() {
      const [task, clients, health, endpoints] = await Promise.all([
        get("/v1/task").catch((e) => (e.status === 404 ? null : Promise.reject(e))),
        get("/v1/clients"),
        get("/healthz"),
        get("/v1/task/endpoints").catch(() => null),
      ]);
      el(root, "#task-body").innerHTML = task ? taskHtml(task) : noTaskHtml(health);
      el(root, "#arch").innerHTML = archSvg(task, clients.clients || [], health);
      el(root, "#endpoints").innerHTML = endpointsHtml(endpoints);
    },
  };
}

function noTaskHtml(health) {
  return `<h2>No migration task</h2><p>The control plane runs without a task: topic phases can be moved freely
    (${esc(health.topics)} topics registered, table version ${esc(health.version)}). Create one with
    <code>rmq-migrate task create</code>.</p>`;
}

function taskHtml(view) {
  const t = view.task;
  const cur = STEPS.indexOf(t.step);
  const entered = Object.fromEntries((t.steps || []).map((s) => [s.step, s]));
  const steps = STEPS.map((s, i) => {
    const state = i < cur ? "done" : i === cur ? (t.step === "completed" ? "done" : "current") : i === cur + 1 ? "next" : "pending";
    const rec = entered[s];
    return `<li class="step step-${state}" data-step="${s}"><span class="n">${i + 1}</span><b>${esc(s)}</b>
      <span class="state">${state}</span>${rec ? `<small>${esc(rec.at)}<br>${esc(rec.actor)}${rec.forced ? " (forced)" : ""}</small>` : ""}</li>`;
  }).join("");
  const failing = (view.checks || []).filter((c) => !c.passed);
  const next = view.next
    ? `<h3>Next step: ${esc(view.next)}</h3>${failing.length ? `<p class="blocked">Blocked by ${failing.length} condition(s):</p>` : `<p class="ready">Every condition holds.</p>`}
       ${checksHtml(view.checks)}
       <button type="button" data-task="advance" data-expected="${esc(t.step)}" ${t.paused ? "disabled" : ""}>Enter ${esc(view.next)}</button>`
    : `<p class="ready">Completed${t.completed_at ? ` at ${esc(t.completed_at)}` : ""}.</p>${checksHtml(t.decommission)}`;
  const pause = t.paused
    ? `<p class="paused">Paused by ${esc(t.paused.by)} at ${esc(t.paused.at)}${t.paused.reason ? `: ${esc(t.paused.reason)}` : ""}</p>
       <button type="button" data-task="resume">Resume</button>`
    : `<input id="pause-reason" placeholder="reason (optional)"> <button type="button" data-task="pause" class="secondary">Pause</button>`;
  return `<h2>${esc(t.name)} <small>${esc(t.id)}</small></h2>
    <p>${esc(t.source.description || "source")} (<code>${esc(t.source.name_server)}</code>) → ${esc(t.target.description || "target")}
      (<code>${esc(t.target.name_server)}</code>), created ${esc(t.created_at)}</p>
    <ol class="steps">${steps}</ol>
    <div class="panel">${next}</div>
    <div class="panel">${pause}</div>`;
}

function archSvg(view, clients, health) {
  const t = view && view.task;
  const live = clients.filter((c) => c.live);
  const producers = live.filter((c) => c.role.includes("producer")).length;
  const consumers = live.length - producers;
  const stale = live.filter((c) => c.status === "stale").length;
  const cl = health.clusters || {};
  const ok = (side) => (cl[side] && cl[side].ok === false ? "down" : "up");
  const box = (x, y, w, h, cls, title, lines) =>
    `<g class="box ${cls}"><rect x="${x}" y="${y}" width="${w}" height="${h}" rx="8"></rect>
     <text x="${x + w / 2}" y="${y + 24}" class="title">${esc(title)}</text>${lines
       .map((l, i) => `<text x="${x + w / 2}" y="${y + 46 + i * 18}">${esc(l)}</text>`)
       .join("")}</g>`;
  const arrow = (x1, y1, x2, y2, label, cls = "") =>
    `<line class="arrow ${cls}" x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" marker-end="url(#head)"></line>
     <text class="label" x="${(x1 + x2) / 2}" y="${(y1 + y2) / 2 - 6}">${esc(label)}</text>`;
  return `<svg class="arch" viewBox="0 0 760 300" role="img" aria-label="architecture">
    <defs><marker id="head" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
      <path d="M0,0 L10,5 L0,10 z"></path></marker></defs>
    ${box(280, 10, 200, 80, "plane", "control plane", [t ? `task: ${t.step}${t.paused ? " (paused)" : ""}` : "no task", `table v${health.version}, ${health.topics} topics`])}
    ${box(280, 150, 200, 90, "shim", "shim clients", [`${producers} producers, ${consumers} consumers`, stale ? `${stale} STALE` : "all in sync"])}
    ${box(20, 150, 200, 90, `cluster ${ok("source")}`, "source", [t ? t.source.description : "", t ? t.source.name_server : ok("source")])}
    ${box(540, 150, 200, 90, `cluster ${ok("target")}`, "target", [t ? t.target.description : "", t ? t.target.name_server : ok("target")])}
    ${arrow(380, 90, 380, 148, "phases (long-poll)")}
    ${arrow(280, 195, 222, 195, "send / consume")}
    ${arrow(480, 195, 538, 195, "send / consume")}
    ${arrow(280, 60, 120, 148, "readiness checks", "dashed")}
    ${arrow(480, 60, 640, 148, "readiness checks", "dashed")}
  </svg>`;
}

const ENDPOINT_ROWS = 100;

function endpointsHtml(doc) {
  if (!doc || !doc.topics || doc.topics.length === 0) return "<p>No topic registered.</p>";
  // Not yet switched first; at most ENDPOINT_ROWS rows (the Topics view pages through all of them).
  const list = [...doc.topics].sort((a, b) => Number(a.switched) - Number(b.switched));
  const open = list.filter((t) => !t.switched).length;
  return `<p>${open} of ${list.length} topics not yet switched to the shim.</p>
    <table><thead><tr><th>topic</th><th>switched</th><th>shim clients</th><th>outside the shim</th></tr></thead><tbody>
    ${list
      .slice(0, ENDPOINT_ROWS)
      .map(
        (t) => `<tr><td>${esc(t.topic)}</td><td>${t.switched ? "yes" : '<span class="warn">no</span>'}</td>
      <td>${t.clients.map((c) => `${esc(c.application)} ${esc(c.role)} ${esc(c.group)} ${c.live ? "" : '<span class="warn">gone</span>'} <small>${ago(c.last_seen_ms)}</small>`).join("<br>")}</td>
      <td>${(t.unmanaged || []).map(esc).join("<br>")}</td></tr>`,
      )
      .join("")}</tbody></table>${list.length > ENDPOINT_ROWS ? `<p class="muted">and ${list.length - ENDPOINT_ROWS} more</p>` : ""}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Topics

const PAGE = 50;

/** Every topic: phase, ratio, orderly/sealed, readiness; filter, sort, paging, selection and batch moves. */
export function topicsView() {
  let root;
  let ctx;
  let topics = [];
  let task = null;
  const selected = new Set();
  let lastHtml = "";
  const st = { filter: "", phase: "", ready: "", sort: "topic", desc: false, page: 0 };

  const matching = () => {
    const f = st.filter.toLowerCase();
    let list = topics.filter(
      (t) =>
        (!f || t.topic.toLowerCase().includes(f)) &&
        (!st.phase || t.state.phase === st.phase) &&
        (!st.ready || (st.ready === "ready") === isReady(t)),
    );
    const key = {
      topic: (t) => t.topic,
      phase: (t) => PHASES.indexOf(t.state.phase),
      ratio: (t) => t.state.write_ratio,
      ready: (t) => (isReady(t) ? 1 : 0),
      clients: (t) => t.clients.length,
      checked: (t) => t.checked_at || "",
    }[st.sort];
    list.sort((a, b) => {
      const x = key(a);
      const y = key(b);
      return (x < y ? -1 : x > y ? 1 : 0) * (st.desc ? -1 : 1);
    });
    return list;
  };

  const draw = () => {
    const list = matching();
    const pages = Math.max(1, Math.ceil(list.length / PAGE));
    st.page = Math.min(st.page, pages - 1);
    const rows = list.slice(st.page * PAGE, (st.page + 1) * PAGE);
    const th = (k, label) => `<th><button type="button" class="sort" data-sort="${k}">${label}${st.sort === k ? (st.desc ? " ▼" : " ▲") : ""}</button></th>`;
    const html = `<table class="topics"><thead><tr>
      <th><input type="checkbox" id="select-page" aria-label="select page"></th>
      ${th("topic", "topic")}${th("phase", "phase")}${th("ratio", "write ratio")}<th>orderly</th>
      ${th("ready", "readiness (next step)")}${th("clients", "clients")}<th>stored source / target</th>${th("checked", "checked at")}<th>actions</th>
      </tr></thead><tbody>${rows.map(rowHtml).join("")}</tbody></table>`;
    // Redraw only what changed: a live update that brings nothing new keeps the rows (and what the mouse is on).
    if (html !== lastHtml) {
      el(root, "#topics-table").innerHTML = html;
      lastHtml = html;
    }
    el(root, "#select-page").checked = rows.length > 0 && rows.every((t) => selected.has(t.topic));
    el(root, "#page-info").textContent = `${list.length} of ${topics.length} topics · page ${st.page + 1} / ${pages} · ${selected.size} selected`;
    el(root, "#prev").disabled = st.page === 0;
    el(root, "#next").disabled = st.page >= pages - 1;
    const t = task;
    el(root, "#task-line").innerHTML = t
      ? `Task <b>${esc(t.name)}</b> in step <b>${esc(t.step)}</b>${t.paused ? ` — <span class="warn">paused by ${esc(t.paused.by)}</span>: moves are refused` : t.step !== "grayscale" ? " — phase moves are made in step grayscale only" : ""}`
      : "No migration task: phases can be moved freely.";
  };

  const rowHtml = (t) => {
    const s = t.state;
    const ratio =
      s.phase === "dual_read_write"
        ? `<input type="range" min="0" max="100" step="5" value="${Math.round(s.write_ratio * 100)}" data-ratio="${esc(t.topic)}" aria-label="write ratio"> <span class="ratio-value">${Math.round(s.write_ratio * 100)}%</span>`
        : `<span class="muted">${Math.round(s.write_ratio * 100)}%</span>`;
    const ready = t.advance.length === 0
      ? '<span class="muted">—</span>'
      : isReady(t)
        ? '<span class="ready">ready</span>'
        : checksHtml(t.advance, true);
    return `<tr data-topic="${esc(t.topic)}" class="${selected.has(t.topic) ? "selected" : ""}">
      <td><input type="checkbox" data-select="${esc(t.topic)}" ${selected.has(t.topic) ? "checked" : ""}></td>
      <td class="name">${esc(t.topic)}</td><td>${phaseBadge(s.phase)}</td><td class="ratio">${ratio}</td>
      <td>${s.orderly ? "orderly" : ""}${s.sealed ? " sealed" : ""}</td>
      <td class="readiness">${ready}</td><td>${t.clients.length}</td>
      <td>${num(t.source.stored)} / ${num(t.target.stored)}</td><td><small>${esc(t.checked_at || "")}</small></td>
      <td class="actions">
        ${s.phase !== "completed" ? `<button type="button" data-act="advance" data-topic="${esc(t.topic)}" data-expected="${s.phase}">advance</button>` : ""}
        ${s.phase !== "initial" ? `<button type="button" class="secondary" data-act="rollback" data-topic="${esc(t.topic)}" data-expected="${s.phase}">rollback</button>` : ""}
        <button type="button" class="secondary" data-act="check" data-topic="${esc(t.topic)}">check</button>
        ${s.phase === "initial" ? `<button type="button" class="danger" data-act="remove" data-topic="${esc(t.topic)}">remove</button>` : ""}
      </td></tr>`;
  };

  const batch = async (dir) => {
    const items = topics.filter((t) => selected.has(t.topic)).map((t) => ({ topic: t.topic, expected: t.state.phase }));
    if (items.length === 0) return ctx.show("error", "Select topics first.");
    const mode = el(root, "#batch-mode").value;
    await ctx.act("POST", `/v1/topics:${dir}`, { topics: items, mode }, `${dir} ${items.length} topic(s)`);
  };

  return {
    title: "Topics",
    mount(r, c) {
      root = r;
      ctx = c;
      lastHtml = "";
      root.innerHTML = `<p id="task-line" class="task-line"></p>
        <div class="toolbar">
          <input id="filter" type="search" placeholder="filter topics" aria-label="filter">
          <select id="phase-filter" aria-label="phase"><option value="">every phase</option>${PHASES.map((p) => `<option>${p}</option>`).join("")}</select>
          <select id="ready-filter" aria-label="readiness"><option value="">ready or not</option><option value="ready">ready</option><option value="blocked">blocked</option></select>
          <span class="sep"></span>
          <button type="button" id="select-all" class="secondary">select all matching</button>
          <button type="button" id="select-none" class="secondary">clear selection</button>
          <select id="batch-mode" aria-label="batch mode"><option value="each">each topic that can</option><option value="all_or_nothing">all or nothing</option></select>
          <button type="button" id="batch-advance">advance selected</button>
          <button type="button" id="batch-rollback" class="secondary">rollback selected</button>
          <button type="button" id="batch-check" class="secondary">check selected</button>
        </div>
        <div id="topics-table"></div>
        <div class="pager"><button type="button" id="prev" class="secondary">‹ prev</button> <span id="page-info"></span>
          <button type="button" id="next" class="secondary">next ›</button></div>`;
      el(root, "#filter").addEventListener("input", (e) => { st.filter = e.target.value; st.page = 0; draw(); });
      el(root, "#phase-filter").addEventListener("change", (e) => { st.phase = e.target.value; st.page = 0; draw(); });
      el(root, "#ready-filter").addEventListener("change", (e) => { st.ready = e.target.value; st.page = 0; draw(); });
      el(root, "#prev").addEventListener("click", () => { st.page--; draw(); });
      el(root, "#next").addEventListener("click", () => { st.page++; draw(); });
      el(root, "#select-all").addEventListener("click", () => { matching().forEach((t) => selected.add(t.topic)); draw(); });
      el(root, "#select-none").addEventListener("click", () => { selected.clear(); draw(); });
      el(root, "#batch-advance").addEventListener("click", async () => { await batch("advance"); this.refresh(); });
      el(root, "#batch-rollback").addEventListener("click", async () => { await batch("rollback"); this.refresh(); });
      el(root, "#batch-check").addEventListener("click", async () => {
        const names = [...selected];
        for (const n of names) await ctx.act("POST", `/v1/topics/${encodeURIComponent(n)}/health-check`, {}, `check ${n}`, true);
        ctx.show("ok", `Checked ${names.length} topic(s) now.`);
        this.refresh();
      });
      root.addEventListener("change", async (e) => {
        const t = e.target;
        if (t.id === "select-page") {
          const on = t.checked;
          root.querySelectorAll("input[data-select]").forEach((b) => (on ? selected.add(b.dataset.select) : selected.delete(b.dataset.select)));
          draw();
        } else if (t.dataset.select) {
          if (t.checked) selected.add(t.dataset.select);
          else selected.delete(t.dataset.select);
          el(root, "#page-info").textContent = el(root, "#page-info").textContent.replace(/\d+ selected/, `${selected.size} selected`);
        } else if (t.dataset.ratio) {
          const ratio = Number(t.value) / 100;
          await ctx.act("PUT", `/v1/topics/${encodeURIComponent(t.dataset.ratio)}/write-ratio`, { write_ratio: ratio }, `write ratio of ${t.dataset.ratio} to ${t.value}%`);
          this.refresh();
        }
      });
      root.addEventListener("input", (e) => {
        if (e.target.dataset && e.target.dataset.ratio) e.target.nextElementSibling.textContent = `${e.target.value}%`;
      });
      root.addEventListener("click", async (e) => {
        const s = e.target.closest("button[data-sort]");
        if (s) {
          st.desc = st.sort === s.dataset.sort ? !st.desc : false;
          st.sort = s.dataset.sort;
          return draw();
        }
        const b = e.target.closest("button[data-act]");
        if (!b) return;
        const topic = b.dataset.topic;
        const path = `/v1/topics/${encodeURIComponent(topic)}`;
        if (b.dataset.act === "advance" || b.dataset.act === "rollback") {
          await ctx.act("POST", `${path}/${b.dataset.act}`, { expected: b.dataset.expected }, `${b.dataset.act} ${topic}`);
        } else if (b.dataset.act === "check") {
          const v = await ctx.act("POST", `${path}/health-check`, {}, `check ${topic}`, true);
          if (v) ctx.show(v.advance.every((c) => c.passed) ? "ok" : "error", `Checks of ${topic} now:`, v.advance);
        } else if (b.dataset.act === "remove") {
          if (!confirm(`Remove ${topic} from the migration?`)) return;
          await ctx.act("DELETE", path, undefined, `remove ${topic}`);
          selected.delete(topic);
        }
        this.refresh();
      });
    },
    async refresh() {
      const doc = await get("/v1/topics");
      topics = doc.topics;
      task = doc.task;
      if (document.activeElement && document.activeElement.dataset && document.activeElement.dataset.ratio) return;
      draw();
    },
  };
}

function isReady(t) {
  return t.advance.length > 0 && t.advance.every((c) => c.passed);
}

// ---------------------------------------------------------------------------------------------------------------
// Monitoring

const RANGES = { "15m": "15 min", "1h": "1 hour", "6h": "6 hours", "1d": "1 day", "7d": "7 days" };
const COLORS = { source: "#d9822b", target: "#2b7bd9" };

/** uPlot charts per cluster: stored/s, consumed/s and backlog over time, for the whole task or one topic. */
export function monitoringView() {
  let root;
  let charts = [];
  let topicsKnown = "";
  const st = { topic: "", since: "1h" };
  return {
    title: "Monitoring",
    mount(r) {
      root = r;
      root.innerHTML = `<div class="toolbar">
          <select id="mon-topic" aria-label="topic"><option value="">whole task</option></select>
          <select id="mon-since" aria-label="range">${Object.entries(RANGES).map(([k, v]) => `<option value="${k}" ${k === st.since ? "selected" : ""}>last ${v}</option>`).join("")}</select>
          <span id="mon-info" class="muted"></span>
        </div>
        <div class="charts">
          <figure><figcaption>stored / s per cluster</figcaption><div class="chart" id="chart-stored"></div></figure>
          <figure><figcaption>consumed / s per cluster</figcaption><div class="chart" id="chart-consumed"></div></figure>
          <figure><figcaption>backlog per cluster</figcaption><div class="chart" id="chart-backlog"></div></figure>
        </div>`;
      el(root, "#mon-topic").addEventListener("change", (e) => { st.topic = e.target.value; this.refresh(); });
      el(root, "#mon-since").addEventListener("change", (e) => { st.since = e.target.value; this.refresh(); });
    },
    async refresh() {
      const q = new URLSearchParams({ since: st.since });
      if (st.topic) q.set("topic", st.topic);
      const [doc, phases] = await Promise.all([get(`/v1/monitor?${q}`), get("/v1/phases")]);
      const names = Object.keys(phases.topics);
      if (names.join("\n") !== topicsKnown) {
        topicsKnown = names.join("\n");
        el(root, "#mon-topic").innerHTML = `<option value="">whole task</option>${names.map((n) => `<option ${n === st.topic ? "selected" : ""}>${esc(n)}</option>`).join("")}`;
      }
      const pts = doc.points || [];
      const xs = pts.map((p) => Date.parse(p.at) / 1000);
      const series = (f) => ["source", "target"].map((c) => pts.map((p) => (p[c][f] == null ? null : p[c][f])));
      const info = st.topic ? `${st.topic}: ${phases.topics[st.topic] ? phases.topics[st.topic].phase : ""}` : `${names.length} topics`;
      el(root, "#mon-info").textContent = `${pts.length} points every ${doc.resolution_s} s · ${info}`;
      const parts = [
        [el(root, "#chart-stored"), series("stored_per_s"), "msg/s"],
        [el(root, "#chart-consumed"), series("consumed_per_s"), "msg/s"],
        [el(root, "#chart-backlog"), series("backlog"), "messages"],
      ];
      if (charts.length === parts.length) {
        // New points into the same charts: the legend and the cursor stay where they are.
        parts.forEach(([div, ys], i) => {
          count(div, xs, ys);
          charts[i].setData([xs, ...ys]);
        });
      } else {
        charts = parts.map(([div, ys, unit]) => chart(div, xs, ys, unit));
      }
    },
    unmount() {
      charts.forEach((c) => c.destroy());
      charts = [];
    },
  };
}

/** Note on the chart's element how many points it has, and how many of its values are above zero. */
function count(div, xs, ys) {
  div.dataset.points = String(xs.length);
  div.dataset.values = String(ys.flat().filter((v) => v != null && v > 0).length);
}

function chart(div, xs, ys, unit) {
  count(div, xs, ys);
  const width = Math.max(320, Math.min(div.clientWidth || 700, 1100));
  const opts = {
    width,
    height: 220,
    series: [
      {},
      { label: "source", stroke: COLORS.source, width: 2, spanGaps: true },
      { label: "target", stroke: COLORS.target, width: 2, spanGaps: true },
    ],
    axes: [{}, { label: unit, size: 60 }],
    scales: { x: { time: true } },
  };
  return new window.uPlot(opts, [xs, ...ys], div);
}

// ---------------------------------------------------------------------------------------------------------------
// Clients, groups, audit

/** Live shim clients: application, role, group, per topic the phase applied, last heartbeat, STALE. */
export function clientsView() {
  let root;
  let f = "";
  let clients = [];
  const draw = () => {
    const list = clients.filter((c) => !f || JSON.stringify([c.client_id, c.application, c.group, c.topics]).toLowerCase().includes(f));
    el(root, "#clients-table").innerHTML = `<p class="muted">${list.length} of ${clients.length} clients</p>
      <table><thead><tr><th>application</th><th>role</th><th>group</th><th>client id</th><th>topics: applied phase</th><th>status</th><th>last heartbeat</th><th>sent / received source</th><th>target</th></tr></thead><tbody>
      ${list
        .map((c) => {
          const applied = c.topics.map((t) => `${esc(t)}: ${c.applied && c.applied[t] ? phaseBadge(c.applied[t].phase) : '<span class="muted">not yet</span>'}`).join("<br>");
          const status = !c.live ? '<span class="warn">gone</span>' : c.status === "stale" ? '<span class="warn">STALE</span>' : esc(c.status);
          const cnt = (x) => `${num(x.sent)} / ${num(x.received)}`;
          return `<tr><td>${esc(c.application)}</td><td>${esc(c.role)}</td><td>${esc(c.group)}</td><td><small>${esc(c.client_id)}</small></td>
            <td>${applied}</td><td>${status}</td><td>${ago(c.last_seen_ms)}</td><td>${cnt(c.counters.source)}</td><td>${cnt(c.counters.target)}</td></tr>`;
        })
        .join("")}</tbody></table>`;
  };
  return {
    title: "Clients",
    mount(r) {
      root = r;
      root.innerHTML = `<div class="toolbar"><input id="clients-filter" type="search" placeholder="filter by topic, application, group"></div><div id="clients-table"></div>`;
      el(root, "#clients-filter").addEventListener("input", (e) => { f = e.target.value.toLowerCase(); draw(); });
    },
    async refresh() {
      clients = (await get("/v1/clients")).clients;
      draw();
    },
  };
}

/** Consumer groups on both clusters, switched or not, with their consumers inside and outside the shim. */
export function groupsView() {
  let root;
  const list = (title, items, cls = "") =>
    `<div class="panel ${cls}"><h3>${title} (${items.length})</h3>${items.length ? `<p>${items.map((g) => `<code>${esc(g)}</code>`).join(" ")}</p>` : '<p class="muted">none</p>'}</div>`;
  return {
    title: "Groups",
    mount(r) {
      root = r;
      root.innerHTML = `<div id="groups-body"></div>`;
    },
    async refresh() {
      const g = await get("/v1/groups");
      el(root, "#groups-body").innerHTML = `<div class="lists">
        ${list("Not yet switched", g.not_switched || [], (g.not_switched || []).length ? "attention" : "")}
        ${list("Missing on the target", g.missing_on_target || [], (g.missing_on_target || []).length ? "attention" : "")}
        ${list("Connected to the source without the shim", g.unmanaged_on_source || [])}
        </div>
        <table><thead><tr><th>group</th><th>on source</th><th>on target</th><th>consumers source (shim)</th><th>consumers target (shim)</th><th>switched</th><th>outside the shim</th><th>topics</th></tr></thead><tbody>
        ${(g.clients || [])
          .map(
            (c) => `<tr class="${c.switched ? "" : "not-switched"}"><td>${esc(c.group)}</td><td>${c.on_source ? "yes" : "no"}</td><td>${c.on_target ? "yes" : '<span class="warn">no</span>'}</td>
          <td>${c.source} (${c.source_shim})</td><td>${c.target} (${c.target_shim})</td><td>${c.switched ? "yes" : '<span class="warn">not switched</span>'}</td>
          <td>${(c.outside_shim || []).map(esc).join("<br>")}</td><td>${(c.topics || []).map((t) => `${esc(t.topic)} ${t.phase ? phaseBadge(t.phase) : ""}`).join("<br>")}</td></tr>`,
          )
          .join("")}</tbody></table>
        <p class="muted">Groups on the source: ${(g.source || []).length}; on the target: ${(g.target || []).length}.</p>`;
    },
  };
}

/** The audit log, newest first, filtered by topic (server side) and by any text (actor, action, outcome). */
export function auditView() {
  let root;
  let entries = [];
  const st = { topic: "", text: "", limit: 200 };
  const draw = () => {
    const f = st.text.toLowerCase();
    const list = entries.filter((e) => !f || JSON.stringify([e.actor, e.action, e.outcome, e.detail, e.topic]).toLowerCase().includes(f));
    el(root, "#audit-table").innerHTML = `<p class="muted">${list.length} of the last ${entries.length} entries</p>
      <table><thead><tr><th>#</th><th>time</th><th>actor</th><th>action</th><th>topic</th><th>move</th><th>outcome</th><th>checks / detail</th></tr></thead><tbody>
      ${list
        .map(
          (e) => `<tr class="outcome-${esc(e.outcome)}"><td>${e.seq}</td><td><small>${esc(e.time)}</small></td><td>${esc(e.actor)}</td><td>${esc(e.action)}</td><td>${esc(e.topic)}</td>
        <td>${e.from ? phaseBadge(e.from) : ""}${e.to ? ` → ${phaseBadge(e.to)}` : ""}${e.write_ratio != null ? ` ratio ${Math.round(e.write_ratio * 100)}%` : ""}${e.forced ? ' <span class="warn">forced</span>' : ""}</td>
        <td>${esc(e.outcome)}</td><td>${checksHtml(e.checks, e.outcome !== "refused" ? false : true)}${e.detail ? esc(e.detail) : ""}</td></tr>`,
        )
        .join("")}</tbody></table>`;
  };
  return {
    title: "Audit",
    mount(r) {
      root = r;
      root.innerHTML = `<div class="toolbar"><input id="audit-topic" type="search" placeholder="topic (exact)">
        <input id="audit-text" type="search" placeholder="filter actor, action, outcome">
        <select id="audit-limit"><option>100</option><option selected>200</option><option>1000</option><option>10000</option></select></div>
        <div id="audit-table"></div>`;
      el(root, "#audit-topic").addEventListener("change", (e) => { st.topic = e.target.value.trim(); this.refresh(); });
      el(root, "#audit-text").addEventListener("input", (e) => { st.text = e.target.value; draw(); });
      el(root, "#audit-limit").addEventListener("change", (e) => { st.limit = Number(e.target.value); this.refresh(); });
    },
    async refresh() {
      const q = new URLSearchParams({ limit: String(st.limit) });
      if (st.topic) q.set("topic", st.topic);
      entries = [...(await get(`/v1/audit?${q}`)).entries].sort((a, b) => b.seq - a.seq);
      draw();
    },
  };
}
