// One endpoint: its health, signing secret, test events and replay, and the form editing it.

import { app, call, catalogue, statusOf } from "./api.js";
import { action, attempt, button, el, fresh, say, table, when } from "./dom.js";
import { endpointForm, endpoints } from "./endpoints.js";
import { messageView } from "./messages.js";

/** The window the health counts cover. */
const HEALTH_DAYS = 7;

/** Why the endpoint is in the state it is, in a sentence. */
function stateLine(endpoint) {
  if (!endpoint.disabled) {
    return endpoint.failSince
      ? `Enabled, but every delivery has failed since ${when(endpoint.failSince)}; it is disabled if that goes on.`
      : "Enabled.";
  }
  if (endpoint.disabledTrigger === "automatic") {
    return `Disabled automatically: every delivery failed from ${when(endpoint.failSince)} on. Fix the receiver, then enable it.`;
  }
  if (endpoint.disabledTrigger === "manual") return "Disabled by hand: it receives nothing until enabled.";
  return "Disabled: it receives nothing until enabled.";
}

async function health(path, endpoint) {
  const since = new Date(Date.now() - HEALTH_DAYS * 86400e3).toISOString();
  const stats = await call("GET", `${path}/stats?since=${encodeURIComponent(since)}`);
  const failures = await call("GET", `${app()}/attempt/endpoint/${encodeURIComponent(endpoint.id)}?status=2&limit=5`);
  const total = stats.success + stats.fail;
  const rate = total
    ? `${Math.round((100 * stats.success) / total)} % delivered in the last ${HEALTH_DAYS} days`
    : `Nothing finished in the last ${HEALTH_DAYS} days`;
  const counts = `${stats.success} delivered, ${stats.fail} failed for good, ${stats.pending + stats.sending} waiting or retrying`;
  const rows = failures.data.map((a) =>
    el(
      "tr",
      {},
      el("td", { text: when(a.timestamp) }),
      el("td", { text: String(a.responseStatusCode) }),
      el("td", { class: "optional" }, el("pre", { text: a.response })),
      el("td", {}, action("Message", () => messageView(a.msgId))),
    ),
  );
  return el(
    "section",
    { class: "card", "aria-labelledby": "health" },
    el("h2", { id: "health", text: "Health" }),
    el("p", { id: "health-state", class: endpoint.disabled ? "bad" : endpoint.failSince ? "bad" : "good", text: stateLine(endpoint) }),
    el("p", { id: "health-rate", text: `${rate} (${counts}).` }),
    rows.length
      ? table("Recent failed attempts", [["Recent failure"], ["Status code"], ["Response", "optional"], [""]], rows)
      : el("p", { class: "muted", text: "No failed attempts." }),
  );
}

/** Waits for the first attempt of `message` (up to ~15 s) and says how it went. */
async function testResult(message, out) {
  out.textContent = "Test event sent; waiting for its attempt…";
  for (let i = 0; i < 30; i++) {
    const attempts = await call("GET", `${app()}/attempt/msg/${encodeURIComponent(message.id)}?limit=1`);
    const first = attempts.data[0];
    if (first) {
      const status = statusOf(first.status);
      out.className = status.cls;
      out.textContent = `Test event: ${status.text}, status code ${first.responseStatusCode}, in ${first.responseDurationMs} ms.`;
      return;
    }
    await new Promise((ok) => setTimeout(ok, 500));
  }
  out.textContent = "The test event is queued; its attempt will show under Messages.";
}

export async function endpointView(id) {
  const show = fresh("endpoints");
  const path = `${app()}/endpoint/${encodeURIComponent(id)}`;
  const endpoint = await call("GET", path);
  const headers = await call("GET", `${path}/headers`);
  const secret = el("code", { id: "secret", text: "••••••••" });
  const toggle = button(endpoint.disabled ? "Enable" : "Disable", async () => {
    await call("PATCH", path, { disabled: !endpoint.disabled });
    await endpointView(id);
    say(endpoint.disabled ? "Endpoint enabled." : "Endpoint disabled.");
  });
  const remove = button(
    "Delete endpoint",
    async () => {
      if (!confirm(`Delete ${endpoint.url}?`)) return;
      await call("DELETE", path);
      await endpoints();
      say("Endpoint deleted.");
    },
    { class: "danger" },
  );
  const reveal = button("Reveal secret", async () => {
    secret.textContent = (await call("GET", `${path}/secret`)).key;
    say("Secret shown.");
  });
  const rotate = button("Rotate secret", async () => {
    secret.textContent = (await call("POST", `${path}/secret/rotate`, {})).key;
    say("Secret rotated; the old one keeps signing for a day, alongside the new one.");
  });
  const types = await catalogue();
  const testType = el("select", { id: "test-type" }, ...(types.length ? types : [{ name: "test.event" }]).map((t) => el("option", { value: t.name, text: t.name })));
  const testOut = el("p", { id: "test-result", role: "status" });
  const test = button("Send test event", async () => {
    const message = await call("POST", `${path}/send-example`, { eventType: testType.value });
    await testResult(message, testOut);
  });
  const since = el("input", { id: "recover-since", type: "datetime-local" });
  const recover = button("Replay failed messages", async () => {
    if (!since.value) throw new Error("Choose the time to replay failed messages from.");
    await call("POST", `${path}/recover`, { since: new Date(since.value).toISOString() });
    say("Failed messages since then are being sent again.");
  });
  show(
    el("h2", { text: endpoint.url }),
    el("p", { class: "muted", text: endpoint.description || "" }),
    el("div", { class: "row" }, toggle, remove),
    await health(path, endpoint),
    el(
      "section",
      { class: "card", "aria-labelledby": "signing" },
      el("h2", { id: "signing", text: "Signing secret" }),
      el("p", {}, secret),
      el("div", { class: "row" }, reveal, rotate),
      el("p", {
        class: "muted",
        text:
          "Each webhook carries webhook-id, webhook-timestamp and webhook-signature headers. Verify them with this secret " +
          "using a Standard Webhooks library (standardwebhooks for JavaScript, Python, Go, Rust, Java, C#, PHP, Ruby and more) " +
          "or Svix's libraries, and reject anything that does not verify.",
      }),
    ),
    el(
      "section",
      { class: "card", "aria-labelledby": "test-replay" },
      el("h2", { id: "test-replay", text: "Test and replay" }),
      el("label", { for: "test-type", text: "Event type" }),
      el("div", { class: "row" }, testType, test),
      testOut,
      el("label", { for: "recover-since", text: "Replay what failed since" }),
      el("div", { class: "row" }, since, recover),
    ),
    await endpointForm(endpoint, headers.headers),
  );
}
