// The control plane's /v1 API as the console uses it: reads, actions with the admin token, and the token itself.
//
// The admin token lives in this tab's sessionStorage only (never localStorage, never a cookie) and is sent as
// `Authorization: Bearer`. An action without a token asks for one first; an action the server answers with 401
// forgets the token and asks again once.

const TOKEN_KEY = "rmq-migrate.admin-token";

/** An answer other than 2xx: `status`, and the server's error document (`error`, `message`, `checks`, ...). */
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

/** The admin token of this tab, or null. */
export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** Keep (or with an empty value, forget) the admin token for this tab. */
export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

let asking = null;

/** Ask for the admin token in the page's dialog; resolves with it, or null when cancelled. */
export function askToken() {
  if (asking) return asking;
  const dialog = document.getElementById("token-dialog");
  const input = document.getElementById("token-input");
  const ok = document.getElementById("token-ok");
  const cancel = document.getElementById("token-cancel");
  asking = new Promise((resolve) => {
    const done = (value) => {
      ok.removeEventListener("click", onOk);
      cancel.removeEventListener("click", onCancel);
      input.removeEventListener("keydown", onKey);
      dialog.close();
      input.value = "";
      asking = null;
      if (value) setToken(value);
      resolve(value || null);
    };
    const onOk = () => done(input.value.trim());
    const onCancel = () => done(null);
    const onKey = (e) => {
      if (e.key === "Enter") onOk();
    };
    ok.addEventListener("click", onOk);
    cancel.addEventListener("click", onCancel);
    input.addEventListener("keydown", onKey);
    dialog.showModal();
    input.focus();
  });
  return asking;
}

async function send(method, path, body, extra = {}) {
  const headers = { Accept: "application/json", ...extra };
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  return r;
}

async function decode(r) {
  const text = await r.text();
  let doc = null;
  try {
    doc = text ? JSON.parse(text) : null;
  } catch {
    doc = { error: "bad_answer", message: text.slice(0, 300) };
  }
  if (!r.ok) throw new ApiError(r.status, doc);
  return doc;
}

/** GET a document. Reads use the token when one is set (needed when the server's reads are closed). */
export async function get(path) {
  return decode(await send("GET", path));
}

/**
 * Long-poll the phase table: resolves with the new table, or null when it did not change within `wait` seconds.
 */
export async function pollPhases(version, wait) {
  const extra = version == null ? {} : { "If-None-Match": `"${version}"` };
  const q = version == null ? "" : `?wait=${wait}`;
  const r = await send("GET", `/v1/phases${q}`, undefined, extra);
  if (r.status === 304) return null;
  return decode(r);
}

/** A change: asks for the admin token when none is set, and once more when the server refuses it (401). */
export async function act(method, path, body) {
  if (!token() && !(await askToken())) throw new ApiError(0, { error: "cancelled", message: "no admin token given" });
  let r = await send(method, path, body);
  if (r.status === 401) {
    setToken(null);
    if (!(await askToken())) throw new ApiError(401, { error: "unauthorized", message: "the admin token was refused" });
    r = await send(method, path, body);
  }
  return decode(r);
}
