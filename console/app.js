// The console's shell: navigation between views (by URL fragment), the status line, the outcome of actions, and
// live updates: a long-poll of the phase table (`GET /v1/phases?wait=30` with `If-None-Match`) redraws the current
// view when the table changes, and the view is re-read every few seconds for readiness, traffic and clients.

import { act, ApiError, askToken, get, pollPhases, setToken, token } from "./api.js";
import { auditView, checksHtml, clientsView, esc, groupsView, monitoringView, taskView, topicsView } from "./views.js";

const VIEWS = {
  task: taskView(),
  topics: topicsView(),
  monitoring: monitoringView(),
  clients: clientsView(),
  groups: groupsView(),
  audit: auditView(),
};
const REFRESH_MS = 5000;

let current = null;
let refreshing = false;

/** Show an outcome above the view: `kind` is "ok" or "error"; `checks` are listed with their details. */
function show(kind, message, checks) {
  const n = document.getElementById("notice");
  n.className = `notice ${kind}`;
  n.innerHTML = `<button type="button" class="close" aria-label="close">×</button><p>${esc(message)}</p>${checksHtml(checks || [])}`;
  n.hidden = false;
  n.querySelector(".close").addEventListener("click", () => (n.hidden = true));
}

/** Show a refusal: the server's error code and message, its failing checks, and per topic results of a batch. */
function showError(what, e) {
  const b = e.body || {};
  const n = document.getElementById("notice");
  show("error", `${what} refused: ${b.error ? `${b.error}: ` : ""}${b.message || e.message}`, b.checks);
  n.dataset.error = b.error || "";
}

/**
 * An action: sends it with the admin token (asked for when missing) and shows what the server said. A batch shows
 * each topic's result. `quiet` leaves success unreported (the caller shows it). Resolves with the answer or null.
 */
async function doAct(method, path, body, what, quiet = false) {
  try {
    const r = await act(method, path, body);
    if (r && Array.isArray(r.results)) {
      const refused = r.results.filter((x) => x.refused);
      const lines = refused.map((x) => `${x.topic}: ${x.refused.error}: ${x.refused.message}`);
      const checks = refused.flatMap((x) => (x.refused.checks || []).filter((c) => !c.passed).map((c) => ({ ...c, detail: `${x.topic}: ${c.detail}` })));
      show(r.refused ? "error" : "ok", `${what}: ${r.moved} moved, ${r.refused} refused. ${lines.join("; ")}`, checks);
    } else if (!quiet) {
      const moved = r && r.from && r.to ? ` (${r.from} → ${r.to})` : "";
      show("ok", `${what}: done${moved}.`, r && r.checks);
    }
    updateStatus();
    return r;
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    if (e.body.error !== "cancelled") showError(what, e);
    return null;
  }
}

const ctx = { act: doAct, show };

function route() {
  const name = (location.hash || "#topics").slice(1);
  const view = VIEWS[name] || VIEWS.topics;
  if (view === current) return;
  if (current && current.unmount) current.unmount();
  current = view;
  document.querySelectorAll("#nav a").forEach((a) => a.classList.toggle("active", VIEWS[a.dataset.view] === view));
  document.title = `${view.title} · RocketMQ migration`;
  const root = document.getElementById("view");
  const fresh = document.createElement("div");
  fresh.className = `view view-${name}`;
  root.replaceChildren(fresh);
  view.mount(fresh, ctx);
  refresh();
}

/** Re-read the current view; an error shows once in the status line instead of breaking the page. */
async function refresh() {
  if (refreshing || !current) return;
  refreshing = true;
  try {
    await current.refresh();
    document.body.dataset.loaded = "true";
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      setStatus("error", "reads need a token: set the admin token");
    } else {
      setStatus("error", `cannot read: ${e.message}`);
    }
  } finally {
    refreshing = false;
  }
}

function setStatus(kind, text) {
  const s = document.getElementById("status");
  s.className = `status ${kind}`;
  s.textContent = text;
}

async function updateStatus() {
  try {
    const h = await get("/healthz");
    const t = h.task;
    const down = Object.entries(h.clusters || {}).filter(([, r]) => r && r.ok === false).map(([k]) => k);
    const d = h.diverged;
    setStatus(
      down.length || d ? "error" : "ok",
      `${d ? "DIVERGED · " : ""}table v${h.version} · ${h.topics} topics${t ? ` · task ${t.step}${t.paused ? " (paused)" : ""}` : ""}${down.length ? ` · ${down.join(", ")} unreachable` : ""}`,
    );
    const banner = document.getElementById("diverged");
    banner.hidden = !d;
    banner.textContent = d
      ? `Diverged since ${d.since}: ${d.clients_ahead} live client(s) hold a newer phase table (version ${d.newest_client_version}) than this control plane (version ${d.table_version}), as after a restore from an older state file. Every table change is refused until an operator runs rmq-migrate adopt (take the clients' newest table) or rmq-migrate adopt --force (publish this control plane's own).${d.topics.length ? ` Topics ahead: ${d.topics.map((x) => `${x.topic} (${x.client.phase} v${x.client.version})`).join(", ")}.` : ""}`
      : "";
  } catch (e) {
    setStatus("error", `control plane unreachable: ${e.message}`);
  }
  document.getElementById("token-button").textContent = token() ? "forget token" : "admin token";
}

/** Follow the phase table; every change redraws the current view at once. */
async function follow() {
  let version = null;
  for (;;) {
    try {
      const doc = await pollPhases(version, 30);
      if (doc) {
        const first = version == null;
        version = doc.version;
        if (!first) {
          updateStatus();
          refresh();
        }
      }
    } catch {
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

document.getElementById("token-button").addEventListener("click", async () => {
  if (token()) setToken(null);
  else await askToken();
  updateStatus();
});
window.addEventListener("hashchange", route);
route();
updateStatus();
follow();
setInterval(() => {
  if (!document.hidden) {
    refresh();
    updateStatus();
  }
}, REFRESH_MS);
