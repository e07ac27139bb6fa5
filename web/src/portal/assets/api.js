// The session and the calls to Herald's API beside the portal (`…/portal/` → `…/api/v1`, so a
// `serve.public_url` with a path prefix reaches it too).

const base = new URL("../api/v1", location.href).pathname;
const KEY = "herald.portal";
const ENDED = "This link has expired or was revoked. Ask for a new one.";

export const state = { session: null, catalogue: null };

/** What the page does when the API says the token no longer works (set by app.js). */
export const hooks = { ended: () => {} };

/**
 * The session: from the fragment when the page was opened with one (then removed from the
 * address bar at once), else from this tab's storage. Never sent anywhere but the API.
 */
export function openSession() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get("token") && fragment.get("app")) {
    const expires = Number(fragment.get("expires")) || 0;
    sessionStorage.setItem(KEY, JSON.stringify({ token: fragment.get("token"), app: fragment.get("app"), expires }));
    history.replaceState(null, "", location.pathname + location.search);
  }
  const kept = sessionStorage.getItem(KEY);
  state.session = kept ? JSON.parse(kept) : null;
  if (state.session && state.session.expires && state.session.expires * 1000 <= Date.now()) endSession();
  return state.session;
}

/** Forgets the session in this tab. */
export function endSession() {
  sessionStorage.removeItem(KEY);
  state.session = null;
}

/** The API's error as one line: its message, or each field with what is wrong with it. */
function problem(json, status) {
  const detail = json && json.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
  return `Request failed (${status})`;
}

/** Calls the API; throws an Error with the API's own message on failure. */
export async function call(method, path, body) {
  if (!state.session) throw new Error(ENDED);
  const response = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${state.session.token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    hooks.ended(ENDED);
    throw new Error(ENDED);
  }
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // Not Herald's answer (a proxy's error page, say): said by its status alone.
    if (response.ok) throw new Error(`Unreadable answer (${response.status})`);
  }
  if (!response.ok) throw new Error(problem(json, response.status));
  return json;
}

/** The application's path in the API. */
export function app() {
  if (!state.session) throw new Error(ENDED);
  return `/app/${encodeURIComponent(state.session.app)}`;
}

/** Every item of a list, page after page (250 at a time, the API's largest page). */
async function all(path) {
  const items = [];
  let iterator = null;
  for (;;) {
    const query = new URLSearchParams({ limit: "250" });
    if (iterator) query.set("iterator", iterator);
    const page = await call("GET", `${path}${path.includes("?") ? "&" : "?"}${query}`);
    items.push(...page.data);
    if (page.done || !page.iterator || page.data.length === 0) return items;
    iterator = page.iterator;
  }
}

/** The event-type catalogue (read once per page load). */
export async function catalogue() {
  if (!state.catalogue) state.catalogue = await all("/event-type?with_content=true");
  return state.catalogue;
}

/** The application's endpoints. */
export async function endpointList() {
  return all(`${app()}/endpoint`);
}

/** Svix's message status codes, as the portal names them. */
export const STATUS = [
  { code: 0, text: "Delivered", cls: "good" },
  { code: 1, text: "Pending", cls: "" },
  { code: 2, text: "Failed", cls: "bad" },
  { code: 3, text: "Sending", cls: "" },
];
export const statusOf = (code) => STATUS.find((s) => s.code === code) || { text: String(code), cls: "" };

/** The newest schema of an event type, and its first example. */
export function newestSchema(type) {
  // The greatest key, as Herald picks the example it sends.
  const versions = Object.keys(type.schemas || {}).sort();
  const schema = versions.length ? type.schemas[versions[versions.length - 1]] : null;
  const example = schema && Array.isArray(schema.examples) ? schema.examples[0] : undefined;
  return { schema, example };
}
