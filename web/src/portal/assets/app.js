// Herald's consumer portal: a small client of Herald's own API, scoped by an app-portal token.
// The token arrives in the URL's fragment (never sent to a server, so never in a log), is kept in
// sessionStorage for this tab only, and is removed from the address bar at once. Every piece of
// data is put on the page as text (textContent), never as markup.

// The API beside the portal (`…/portal/` → `…/api/v1`), so a `serve.public_url` with a path
// prefix (behind a reverse proxy) reaches it too.
const api = new URL("../api/v1", location.href).pathname;
const $ = (selector) => document.querySelector(selector);

/** The session: from the fragment when the page was opened with one, else from this tab. */
function session() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get("token") && fragment.get("app")) {
    sessionStorage.setItem("herald.portal", JSON.stringify({ token: fragment.get("token"), app: fragment.get("app") }));
    history.replaceState(null, "", location.pathname + location.search);
  }
  const kept = sessionStorage.getItem("herald.portal");
  return kept ? JSON.parse(kept) : null;
}

/** The embedding page's theme (svix-react's AppPortal parameters), checked before use. */
function theme() {
  const query = new URLSearchParams(location.search);
  const root = document.documentElement;
  const dark = query.get("darkMode");
  if (dark === "true" || (dark === "auto" && matchMedia("(prefers-color-scheme: dark)").matches)) {
    root.dataset.theme = "dark";
  }
  const color = query.get("primaryColor");
  if (color && /^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/.test(color)) {
    root.style.setProperty("--primary", color.startsWith("#") ? color : `#${color}`);
  }
  const font = query.get("fontFamily");
  if (font && /^[\w .-]{1,64}$/.test(font)) {
    root.style.setProperty("--font", `"${font}", system-ui, sans-serif`);
  }
}

/** Tells an embedding svix-react AppPortal how tall the page is. */
function reportHeight() {
  if (window.parent === window) return;
  const send = () =>
    window.parent.postMessage(
      { type: "svix.iframe-resizer-height", payload: { height: document.documentElement.scrollHeight } },
      "*",
    );
  new ResizeObserver(send).observe(document.body);
}

const state = { session: null, catalogue: null };

function say(text, bad = false) {
  const status = $("#status");
  status.textContent = text;
  status.className = bad ? "bad" : "";
}

/** Calls the API; throws an Error with the API's own message on failure. */
async function call(method, path, body) {
  const response = await fetch(api + path, {
    method,
    headers: { authorization: `Bearer ${state.session.token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    sessionStorage.removeItem("herald.portal");
    throw new Error("This link has expired or was revoked. Ask for a new one.");
  }
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const detail = json && (typeof json.detail === "string" ? json.detail : JSON.stringify(json.detail));
    throw new Error(detail || `Request failed (${response.status})`);
  }
  return json;
}

/** An element with text, attributes and children. */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "text") node.textContent = value;
    else if (key === "on") for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function table(headings, rows) {
  const head = el("tr", {}, ...headings.map(([text, cls]) => el("th", { scope: "col", text, class: cls })));
  return el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows));
}

/** Runs `work`, showing its error (if any) in the status line. */
async function attempt(work) {
  try {
    await work();
  } catch (error) {
    say(error.message, true);
  }
}

function show(...nodes) {
  $("#view").replaceChildren(...nodes);
}

async function catalogue() {
  if (!state.catalogue) state.catalogue = (await call("GET", "/event-type?limit=250&with_content=true")).data;
  return state.catalogue;
}

// Endpoints

async function endpoints() {
  const app = state.session.app;
  const page = await call("GET", `/app/${app}/endpoint?limit=250`);
  const rows = page.data.map((endpoint) =>
    el(
      "tr",
      {},
      el("td", {}, el("a", { href: "#", text: endpoint.url, on: { click: (e) => (e.preventDefault(), attempt(() => endpointView(endpoint.id))) } })),
      el("td", { class: "optional", text: endpoint.description || "—" }),
      el("td", { text: endpoint.disabled ? "Disabled" : "Enabled", class: endpoint.disabled ? "bad" : "good" }),
      el("td", { class: "optional", text: endpoint.eventTypes ? endpoint.eventTypes.join(", ") : "All event types" }),
    ),
  );
  show(
    el("h2", { text: "Endpoints" }),
    page.data.length ? table([["URL"], ["Description", "optional"], ["State"], ["Event types", "optional"]], rows) : el("p", { class: "muted", text: "No endpoints yet." }),
    await endpointForm(),
  );
}

/** The form adding an endpoint, or changing `endpoint` when given. */
async function endpointForm(endpoint) {
  const types = await catalogue();
  const url = el("input", { id: "endpoint-url", type: "url", required: true, placeholder: "https://", value: endpoint?.url, size: 50 });
  const description = el("input", { id: "endpoint-description", value: endpoint?.description, size: 50 });
  const boxes = types.map((t) =>
    el("label", {}, el("input", { type: "checkbox", value: t.name, checked: endpoint?.eventTypes?.includes(t.name) }), document.createTextNode(t.name)),
  );
  const submit = el("button", { type: "submit", class: "primary", text: endpoint ? "Save endpoint" : "Add endpoint" });
  const form = el(
    "form",
    { class: "card", "aria-label": endpoint ? "Edit endpoint" : "Add endpoint" },
    el("h2", { text: endpoint ? "Edit endpoint" : "Add endpoint" }),
    el("label", { for: "endpoint-url", text: "Endpoint URL" }),
    url,
    el("label", { for: "endpoint-description", text: "Description" }),
    description,
    types.length ? el("fieldset", {}, el("legend", { text: "Event types (none ticked: all)" }), ...boxes) : null,
    el("div", { class: "row" }, submit),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(async () => {
      const chosen = boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
      const body = { url: url.value, description: description.value, eventTypes: chosen.length ? chosen : null };
      if (endpoint) {
        await call("PATCH", `/app/${state.session.app}/endpoint/${endpoint.id}`, body);
        say("Endpoint saved.");
        await endpointView(endpoint.id);
      } else {
        await call("POST", `/app/${state.session.app}/endpoint`, body);
        say("Endpoint added.");
        await endpoints();
      }
    });
  });
  return form;
}

async function endpointView(id) {
  const path = `/app/${state.session.app}/endpoint/${id}`;
  const endpoint = await call("GET", path);
  const stats = await call("GET", `${path}/stats`);
  const secret = el("code", { text: "••••••••" });
  const toggle = el("button", {
    type: "button",
    text: endpoint.disabled ? "Enable" : "Disable",
    on: { click: () => attempt(async () => (await call("PATCH", path, { disabled: !endpoint.disabled }), say(endpoint.disabled ? "Endpoint enabled." : "Endpoint disabled."), await endpointView(id))) },
  });
  const remove = el("button", {
    type: "button",
    class: "danger",
    text: "Delete endpoint",
    on: {
      click: () =>
        attempt(async () => {
          if (!confirm(`Delete ${endpoint.url}?`)) return;
          await call("DELETE", path);
          say("Endpoint deleted.");
          await endpoints();
        }),
    },
  });
  const reveal = el("button", { type: "button", text: "Reveal secret", on: { click: () => attempt(async () => (secret.textContent = (await call("GET", `${path}/secret`)).key)) } });
  const rotate = el("button", {
    type: "button",
    text: "Rotate secret",
    on: { click: () => attempt(async () => ((secret.textContent = (await call("POST", `${path}/secret/rotate`, {})).key), say("Secret rotated; the old one signs for another day."))) },
  });
  const types = await catalogue();
  const testType = el("select", { id: "test-type" }, ...(types.length ? types : [{ name: "test.event" }]).map((t) => el("option", { value: t.name, text: t.name })));
  const test = el("button", {
    type: "button",
    text: "Send test event",
    on: { click: () => attempt(async () => (await call("POST", `${path}/send-example`, { eventType: testType.value }), say("Test event sent; see its attempt under Messages."))) },
  });
  const since = el("input", { id: "recover-since", type: "datetime-local" });
  const recover = el("button", {
    type: "button",
    text: "Replay failed messages",
    on: {
      click: () =>
        attempt(async () => {
          if (!since.value) throw new Error("Choose the time to replay failed messages from.");
          await call("POST", `${path}/recover`, { since: new Date(since.value).toISOString() });
          say("Failed messages since then are being sent again.");
        }),
    },
  });
  const total = Object.values(stats).reduce((a, b) => a + b, 0);
  const rate = total ? `${Math.round((100 * stats.success) / total)} % delivered` : "Nothing sent yet";
  show(
    el("h2", { text: endpoint.url }),
    el("p", {}, el("span", { class: endpoint.disabled ? "bad" : "good", text: endpoint.disabled ? "Disabled" : "Enabled" }), document.createTextNode(` · ${rate} (${stats.success} delivered, ${stats.fail} failed, ${stats.pending + stats.sending} waiting)`)),
    el("div", { class: "row" }, toggle, remove),
    el("section", { class: "card", "aria-label": "Signing secret" }, el("h2", { text: "Signing secret" }), el("p", {}, secret), el("div", { class: "row" }, reveal, rotate),
      el("p", { class: "muted", text: "Verify each webhook's signature with this secret using a Standard Webhooks library (standardwebhooks for Python, JavaScript, Go, Rust and others, or Svix's libraries)." })),
    el("section", { class: "card", "aria-label": "Test and replay" }, el("h2", { text: "Test and replay" }),
      el("label", { for: "test-type", text: "Event type" }), el("div", { class: "row" }, testType, test),
      el("label", { for: "recover-since", text: "Replay what failed since" }), el("div", { class: "row" }, since, recover)),
    await endpointForm(endpoint),
  );
}

// Event types

async function eventTypes() {
  const types = await catalogue();
  show(
    el("h2", { text: "Event types" }),
    ...(types.length
      ? types.map((t) =>
          el("section", { class: "card", "aria-label": t.name }, el("h2", { text: t.name }), el("p", { text: t.description || "" }),
            t.schemas ? el("pre", { text: JSON.stringify(t.schemas, null, 2) }) : el("p", { class: "muted", text: "No schema." })),
        )
      : [el("p", { class: "muted", text: "No event types are documented." })]),
  );
}

// Messages

async function messages(iterator = null, eventType = "") {
  const query = new URLSearchParams({ limit: "25", with_content: "false" });
  if (iterator) query.set("iterator", iterator);
  if (eventType) query.set("event_types", eventType);
  const page = await call("GET", `/app/${state.session.app}/msg?${query}`);
  const types = await catalogue();
  const filter = el("select", { id: "type-filter" }, el("option", { value: "", text: "All event types" }), ...types.map((t) => el("option", { value: t.name, text: t.name, selected: t.name === eventType })));
  filter.addEventListener("change", () => attempt(() => messages(null, filter.value)));
  const rows = page.data.map((m) =>
    el(
      "tr",
      {},
      el("td", {}, el("a", { href: "#", text: m.id, on: { click: (e) => (e.preventDefault(), attempt(() => messageView(m.id))) } })),
      el("td", { text: m.eventType }),
      el("td", { class: "optional", text: new Date(m.timestamp).toLocaleString() }),
    ),
  );
  const next = el("button", { type: "button", text: "Older", disabled: page.done, on: { click: () => attempt(() => messages(page.iterator, eventType)) } });
  show(
    el("h2", { text: "Messages" }),
    el("label", { for: "type-filter", text: "Event type" }),
    filter,
    page.data.length ? table([["Message"], ["Event type"], ["Sent", "optional"]], rows) : el("p", { class: "muted", text: "No messages." }),
    el("div", { class: "row" }, next),
  );
}

async function messageView(id) {
  const app = state.session.app;
  const message = await call("GET", `/app/${app}/msg/${id}`);
  const attempts = await call("GET", `/app/${app}/attempt/msg/${id}?limit=100`);
  const status = ["Delivered", "Pending", "Failed", "Sending"];
  const rows = attempts.data.map((a) =>
    el(
      "tr",
      {},
      el("td", { text: status[a.status] || String(a.status), class: a.status === 0 ? "good" : a.status === 2 ? "bad" : "" }),
      el("td", { text: String(a.responseStatusCode) }),
      el("td", { class: "optional", text: `${a.responseDurationMs} ms` }),
      el("td", { class: "optional", text: new Date(a.timestamp).toLocaleString() }),
      el("td", {}, el("pre", { text: a.response })),
      el("td", {}, el("button", { type: "button", text: "Resend", on: { click: () => attempt(async () => (await call("POST", `/app/${app}/msg/${id}/endpoint/${a.endpointId}/resend`), say("Sent again."), await messageView(id))) } })),
    ),
  );
  show(
    el("h2", { text: `${message.eventType} · ${message.id}` }),
    el("pre", { text: JSON.stringify(message.payload, null, 2) }),
    el("h2", { text: "Attempts" }),
    rows.length ? table([["Result"], ["Status code"], ["Duration", "optional"], ["When", "optional"], ["Response"], [""]], rows) : el("p", { class: "muted", text: "No attempts yet." }),
  );
}

// Start

const views = { endpoints, "event-types": eventTypes, messages };

async function start() {
  theme();
  reportHeight();
  state.session = session();
  if (!state.session) {
    say("Open this portal with the link you were given.", true);
    return;
  }
  for (const button of document.querySelectorAll("nav button[data-view]")) {
    button.addEventListener("click", () => {
      for (const other of document.querySelectorAll("nav button[data-view]")) other.removeAttribute("aria-current");
      button.setAttribute("aria-current", "page");
      say("");
      attempt(() => views[button.dataset.view]());
    });
  }
  $("#logout").addEventListener("click", () =>
    attempt(async () => {
      await call("POST", "/auth/logout");
      sessionStorage.removeItem("herald.portal");
      $("#view").replaceChildren();
      say("Logged out.");
    }),
  );
  await attempt(async () => {
    const app = await call("GET", `/app/${state.session.app}`);
    $("#title").textContent = `Webhooks · ${app.name}`;
    document.title = `Webhooks · ${app.name}`;
    await endpoints();
  });
}

start();
