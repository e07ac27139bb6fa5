// The endpoint list, and the form adding or editing an endpoint.

import { app, call, catalogue, endpointList } from "./api.js";
import { action, attempt, el, fresh, say, table } from "./dom.js";
import { endpointView } from "./endpoint.js";

export async function endpoints() {
  const show = fresh("endpoints");
  const list = await endpointList();
  const rows = list.map((endpoint) =>
    el(
      "tr",
      {},
      el("td", {}, action(endpoint.url, () => endpointView(endpoint.id))),
      el("td", { class: "optional", text: endpoint.description || "—" }),
      el("td", { text: endpoint.disabled ? "Disabled" : "Enabled", class: endpoint.disabled ? "bad" : "good" }),
      el("td", { class: "optional", text: endpoint.eventTypes ? endpoint.eventTypes.join(", ") : "All event types" }),
    ),
  );
  show(
    el("h2", { text: "Endpoints" }),
    list.length
      ? table("Your endpoints", [["URL"], ["Description", "optional"], ["State"], ["Event types", "optional"]], rows)
      : el("p", { class: "muted", text: "No endpoints yet." }),
    await endpointForm(),
  );
}

/** Custom headers as the form shows them: one `Name: value` per line. */
const headerLines = (headers) => Object.entries(headers || {}).map(([name, value]) => `${name}: ${value}`).join("\n");

/** The form's header lines as an object; a line without a colon is an error naming it. */
function parseHeaders(text) {
  const headers = {};
  for (const [index, line] of text.split("\n").entries()) {
    if (!line.trim()) continue;
    const colon = line.indexOf(":");
    if (colon < 1) throw new Error(`Custom headers, line ${index + 1}: write it as "Name: value".`);
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return headers;
}

/** A comma-separated list as an array, or null when empty (no filter). */
function listOf(text) {
  const items = text.split(",").map((s) => s.trim()).filter(Boolean);
  return items.length ? items : null;
}

/** The form adding an endpoint, or changing `endpoint` (with its `headers`) when given. */
export async function endpointForm(endpoint, headers) {
  const types = await catalogue();
  const id = (name) => `endpoint-${name}`;
  const field = (name, label, input, hint) => [
    el("label", { for: id(name), text: label }),
    input,
    hint ? el("p", { class: "hint", id: `${id(name)}-hint`, text: hint }) : null,
  ];
  const url = el("input", { id: id("url"), type: "url", required: true, placeholder: "https://", value: endpoint?.url, size: 50 });
  const description = el("input", { id: id("description"), value: endpoint?.description, size: 50 });
  const channels = el("input", { id: id("channels"), value: endpoint?.channels?.join(", "), size: 50, "aria-describedby": `${id("channels")}-hint` });
  const rate = el("input", { id: id("rate"), type: "number", min: 1, step: 1, inputmode: "numeric", value: endpoint?.throttleRate, "aria-describedby": `${id("rate")}-hint` });
  const headerText = el("textarea", { id: id("headers"), rows: 3, cols: 50, "aria-describedby": `${id("headers")}-hint` });
  headerText.value = headerLines(headers);
  // The catalogue's names, and any the endpoint listens to that it no longer lists (archived
  // or removed): saving the form keeps them unless they are unticked.
  const names = [...new Set([...types.map((t) => t.name), ...(endpoint?.eventTypes || [])])];
  const boxes = names.map((name) =>
    el("label", {}, el("input", { type: "checkbox", value: name, checked: endpoint?.eventTypes?.includes(name) }), document.createTextNode(name)),
  );
  const title = endpoint ? "Edit endpoint" : "Add endpoint";
  const form = el(
    "form",
    { class: "card", "aria-label": title },
    el("h2", { text: title }),
    ...field("url", "Endpoint URL", url),
    ...field("description", "Description", description),
    names.length ? el("fieldset", {}, el("legend", { text: "Event types (none ticked: all)" }), ...boxes) : null,
    ...field("channels", "Channels", channels, "Comma-separated; empty: messages of every channel."),
    ...field("rate", "Rate limit", rate, "Deliveries per second at most; empty: no limit."),
    ...field("headers", "Custom headers", headerText, 'Sent with every delivery, one "Name: value" per line.'),
    el("div", { class: "row" }, el("button", { type: "submit", class: "primary", text: endpoint ? "Save endpoint" : "Add endpoint" })),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(async () => {
      const chosen = boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
      let wanted;
      try {
        wanted = parseHeaders(headerText.value);
        headerText.removeAttribute("aria-invalid");
      } catch (error) {
        headerText.setAttribute("aria-invalid", "true");
        headerText.focus();
        throw error;
      }
      const body = {
        url: url.value,
        description: description.value,
        eventTypes: chosen.length ? chosen : null,
        channels: listOf(channels.value),
        throttleRate: rate.value ? Number(rate.value) : null,
      };
      if (endpoint) {
        const path = `${app()}/endpoint/${encodeURIComponent(endpoint.id)}`;
        await call("PATCH", path, body);
        await call("PUT", `${path}/headers`, { headers: wanted });
        await endpointView(endpoint.id);
        say("Endpoint saved.");
      } else {
        const created = await call("POST", `${app()}/endpoint`, body);
        try {
          if (Object.keys(wanted).length) await call("PUT", `${app()}/endpoint/${encodeURIComponent(created.id)}/headers`, { headers: wanted });
        } catch (error) {
          await endpointView(created.id);
          throw new Error(`The endpoint was added, but its custom headers were refused: ${error.message}`);
        }
        await endpoints();
        say("Endpoint added.");
      }
    });
  });
  return form;
}
