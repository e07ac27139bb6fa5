// The session and the calls to Herald's API beside the portal (`…/portal/` → `…/api/v1`, so a
// `serve.public_url` with a path prefix reaches it too).

const base = new URL("../api/v1", location.href).pathname;
const KEY = "herald.portal";
const ENDED = "This link has expired or was revoked. Ask for a new one.";

export const state = { session: null, catalogue: null, endpoints: null };

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
    endSession();
    throw new Error(ENDED);
  }
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error(problem(json, response.status));
  return json;
}

/** The application's path in the API. */
export function app() {
  if (!state.session) throw new Error(ENDED);
  return `/app/${encodeURIComponent(state.session.app)}`;
}

/** The event-type catalogue (read once per page load). */
export async function catalogue() {
  if (!state.catalogue) state.catalogue = (await call("GET", "/event-type?limit=250&with_content=true")).data;
  return state.catalogue;
}

/** The application's endpoints (at most 250, the page's limit). */
export async function endpointList() {
  return (await call("GET", `${app()}/endpoint?limit=250`)).data;
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
