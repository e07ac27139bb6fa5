// The message log (all of the application's messages, or those sent to one endpoint, by status
// and event type, a page at a time) and one message with its deliveries and attempts.

import { STATUS, app, call, catalogue, endpointList, statusOf } from "./api.js";
import { action, attempt, button, el, fresh, say, table, when } from "./dom.js";

const PAGE = 50;

/**
 * A page of the log. `filter` holds the endpoint, status and event type chosen, `iterator` the
 * page's cursor and `trail` the cursors of the pages before it (for "Newer").
 */
export async function messages(filter = { endpoint: "", status: "", eventType: "" }, iterator = null, trail = []) {
  const show = fresh("messages");
  const query = new URLSearchParams({ limit: String(PAGE), with_content: "false" });
  if (iterator) query.set("iterator", iterator);
  if (filter.eventType) query.set("event_types", filter.eventType);
  if (filter.endpoint && filter.status !== "") query.set("status", filter.status);
  const path = filter.endpoint ? `${app()}/endpoint/${encodeURIComponent(filter.endpoint)}/msg` : `${app()}/msg`;
  const page = await call("GET", `${path}?${query}`);
  const [types, endpoints] = [await catalogue(), await endpointList()];

  const pick = (id, label, options, value, disabled = false) => {
    const select = el("select", { id, disabled }, ...options.map(([v, text]) => el("option", { value: v, text, selected: v === value })));
    return [el("label", { for: id, text: label }), select];
  };
  const [endpointLabel, endpointPick] = pick("log-endpoint", "Endpoint", [["", "All endpoints"], ...endpoints.map((e) => [e.id, e.url])], filter.endpoint);
  const [statusLabel, statusPick] = pick("log-status", "Status", [["", "Any status"], ...STATUS.map((s) => [String(s.code), s.text])], filter.status, !filter.endpoint);
  const [typeLabel, typePick] = pick("log-type", "Event type", [["", "All event types"], ...types.map((t) => [t.name, t.name])], filter.eventType);
  const refilter = () =>
    messages({ endpoint: endpointPick.value, status: endpointPick.value ? statusPick.value : "", eventType: typePick.value });
  for (const select of [endpointPick, statusPick, typePick]) select.addEventListener("change", () => attempt(refilter));

  const rows = page.data.map((m) =>
    el(
      "tr",
      {},
      el("td", {}, action(m.eventId || m.id, () => messageView(m.id))),
      el("td", { text: m.eventType }),
      filter.endpoint ? el("td", { text: statusOf(m.status).text, class: statusOf(m.status).cls }) : null,
      el("td", { class: "optional", text: when(m.timestamp) }),
    ),
  );
  const headings = [["Message"], ["Event type"], ...(filter.endpoint ? [["Status"]] : []), ["Sent", "optional"]];
  const older = button("Older", () => messages(filter, page.iterator, [...trail, iterator]), { disabled: page.done || !page.iterator });
  const newer = button("Newer", () => messages(filter, trail[trail.length - 1], trail.slice(0, -1)), { disabled: trail.length === 0 });
  show(
    el("h2", { text: "Messages" }),
    el(
      "div",
      { class: "filters", role: "group", "aria-label": "Filter messages" },
      el("div", {}, endpointLabel, endpointPick),
      el("div", {}, statusLabel, statusPick, filter.endpoint ? null : el("p", { class: "hint", text: "Choose an endpoint to filter by status." })),
      el("div", {}, typeLabel, typePick),
    ),
    page.data.length ? table("Messages, newest first", headings, rows) : el("p", { class: "muted", text: "No messages." }),
    el("div", { class: "row" }, newer, el("span", { id: "log-page", text: `Page ${trail.length + 1}` }), older),
  );
}

export async function messageView(id) {
  const show = fresh("messages");
  const one = `${app()}/msg/${encodeURIComponent(id)}`;
  const message = await call("GET", one);
  const deliveries = await call("GET", `${one}/endpoint?limit=250`);
  const attempts = await call("GET", `${app()}/attempt/msg/${encodeURIComponent(id)}?limit=100`);
  const urls = Object.fromEntries(deliveries.data.map((e) => [e.id, e.url]));
  const deliveryRows = deliveries.data.map((e) =>
    el(
      "tr",
      {},
      el("td", { text: e.url }),
      el("td", { text: statusOf(e.status).text, class: statusOf(e.status).cls }),
      el("td", { class: "optional", text: e.nextAttempt ? when(e.nextAttempt) : "—" }),
      el(
        "td",
        {},
        button("Resend", async () => {
          await call("POST", `${one}/endpoint/${encodeURIComponent(e.id)}/resend`);
          await messageView(id);
          say(`Sent again to ${e.url}.`);
        }),
      ),
    ),
  );
  const attemptRows = attempts.data.map((a) =>
    el(
      "tr",
      {},
      el("td", { text: statusOf(a.status).text, class: statusOf(a.status).cls }),
      el("td", { text: String(a.responseStatusCode) }),
      el("td", { class: "optional", text: `${a.responseDurationMs} ms` }),
      el("td", { class: "optional", text: when(a.timestamp) }),
      el("td", { class: "optional", text: urls[a.endpointId] || a.endpointId }),
      el("td", {}, el("pre", { text: a.response })),
    ),
  );
  show(
    el("h2", { text: `${message.eventType} · ${message.eventId || message.id}` }),
    el("p", { class: "muted", text: `Sent ${when(message.timestamp)} · ${message.id}` }),
    el("pre", { text: JSON.stringify(message.payload, null, 2) }),
    el("h3", { text: "Endpoints" }),
    deliveryRows.length
      ? table("Where this message goes", [["Endpoint"], ["Status"], ["Next attempt", "optional"], [""]], deliveryRows)
      : el("p", { class: "muted", text: "It went to no endpoint." }),
    el("h3", { text: "Attempts" }),
    attemptRows.length
      ? table("Attempts, newest first", [["Result"], ["Status code"], ["Duration", "optional"], ["When", "optional"], ["Endpoint", "optional"], ["Response"]], attemptRows)
      : el("p", { class: "muted", text: "No attempts yet." }),
  );
}
