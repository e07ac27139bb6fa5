// Walks a customer's tasks in the consumer portal, in headless Chromium, against a running
// formation (web/tests/it/portal.rs starts it, with thousands of messages already published and
// an endpoint that only fails, and passes what is needed in the environment):
//   PORTAL_URL   the app-portal link of the customer's application (app A)
//   OTHER_URL    the link of another application of the same organisation (app B)
//   SHORT_URL    a link of app A that expires within seconds
//   RECEIVER     a receiver URL for the endpoint the customer adds
//   BROKEN       the URL of the receiver that only fails (its endpoint's is `${BROKEN}/down`)
//   LOG_SIZE     how many messages app A has before the customer's test event
//   CHROMIUM     the browser's executable
//   SCREENSHOTS  a directory for screenshots of the main views
// Exits non-zero, saying what failed, on the first surprise.

import { chromium } from "playwright-core";
import AxeBuilder from "@axe-core/playwright";
import assert from "node:assert/strict";

const { PORTAL_URL, OTHER_URL, SHORT_URL, RECEIVER, BROKEN, LOG_SIZE, CHROMIUM, SCREENSHOTS } = process.env;
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
const shot = (page, name) => page.screenshot({ path: `${SCREENSHOTS}/portal-${name}.png`, fullPage: true });

/** No serious or critical accessibility violations on the page as it is now. */
async function accessible(page, where) {
  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target).join(" ")})`), [], `${where}: accessibility`);
}

/** Waits until `check` passes, clicking `refresh` between tries. */
async function eventually(page, refresh, check, what) {
  for (let i = 0; i < 60; i++) {
    await page.click(refresh);
    try {
      await check();
      return;
    } catch (e) {
      if (i === 59) throw new Error(`${what}: ${e.message}`);
      await page.waitForTimeout(250);
    }
  }
}

/** Opens the endpoint whose URL shows `text`, from the endpoint list. */
async function openEndpoint(page, text) {
  await page.click("nav button:has-text('Endpoints')");
  await page.click(`a:has-text('${text}')`);
}

/** A tab of its own (its own session storage), collecting script errors. */
async function tab(options = {}) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, ...options });
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(e.message));
  // Refused calls (401, 422) are part of the walk; Chromium logs each, and the page shows them.
  page.on("console", (m) => m.type() === "error" && !m.text().startsWith("Failed to load resource") && page.errors.push(m.text()));
  return page;
}

// A link about to expire: the page works, then closes itself when the token ends.
const brief = await tab();
await brief.goto(SHORT_URL);
await brief.waitForSelector("text=This link works until");

const page = await tab();

// Opening the link: the application's name, the token gone from the address bar, the expiry shown.
await page.goto(PORTAL_URL);
await page.waitForSelector("text=Webhooks · Shop A");
assert.equal(new URL(page.url()).hash, "", "the token leaves the address bar");
await page.waitForSelector("#expiry:has-text('This link works until')");
await page.waitForSelector(`a:has-text('${BROKEN}/down')`);
await accessible(page, "endpoint list");

// Adding an endpoint: one event type chosen from the catalogue, and a custom header.
await page.fill("#endpoint-url", `${RECEIVER}/hook`);
await page.fill("#endpoint-description", "Orders");
await page.check("input[type=checkbox][value='order.paid']");
await page.fill("#endpoint-headers", "X-Shop: a");
await page.click("button:has-text('Add endpoint')");
await page.waitForSelector("text=Endpoint added.");
await page.waitForSelector(`a:has-text('${RECEIVER}/hook')`);
assert.ok(await page.isVisible("td:has-text('order.paid')"), "the filter is listed");
await shot(page, "endpoints");

// A header Herald owns is refused with the API's reason, and nothing changes.
await page.click(`a:has-text('${RECEIVER}/hook')`);
await page.waitForSelector("h2:has-text('Signing secret')");
await page.fill("#endpoint-headers", "X-Shop: a\nwebhook-signature: forged");
await page.click("button:has-text('Save endpoint')");
await page.waitForSelector("#status.bad:has-text('not an allowed HTTP header')");

// Editing it: channels, a rate limit; the custom header kept.
await openEndpoint(page, `${RECEIVER}/hook`);
await page.waitForSelector("h2:has-text('Signing secret')");
assert.equal(await page.inputValue("#endpoint-headers"), "X-Shop: a", "the stored header is shown");
await page.fill("#endpoint-channels", "eu, us");
await page.fill("#endpoint-rate", "10");
await page.click("button:has-text('Save endpoint')");
await page.waitForSelector("text=Endpoint saved.");
assert.equal(await page.inputValue("#endpoint-channels"), "eu, us");
assert.equal(await page.inputValue("#endpoint-rate"), "10");

// Its secret: revealed, rotated; the note on verifying.
await page.click("button:has-text('Reveal secret')");
await page.waitForSelector("#secret:has-text('whsec_')");
const first = await page.textContent("#secret");
await page.click("button:has-text('Rotate secret')");
await page.waitForFunction((old) => document.querySelector("#secret").textContent !== old, first);
assert.ok((await page.textContent("section[aria-labelledby=signing]")).includes("Standard Webhooks"), "how to verify");

// A test event, and its attempt's result on the page.
await page.selectOption("#test-type", "order.paid");
await page.click("button:has-text('Send test event')");
await page.waitForSelector("#test-result.good:has-text('Delivered, status code 200')", { timeout: 20000 });

// Disabling says why; enabling again.
await page.click("button:has-text('Disable')");
await page.waitForSelector("text=Endpoint disabled.");
await page.waitForSelector("#health-state:has-text('Disabled by hand')");
await page.click("button:has-text('Enable')");
await page.waitForSelector("text=Endpoint enabled.");
await page.waitForSelector("#health-state:has-text('Enabled.')");
await accessible(page, "endpoint view");
await shot(page, "endpoint");

// The endpoint that only failed: disabled automatically, its failures at a glance.
await openEndpoint(page, `/down`);
await page.waitForSelector("#health-state:has-text('Disabled automatically')");
await page.waitForSelector("#health-rate:has-text('0 % delivered')");
assert.ok((await page.locator("table:has(caption:text('Recent failed attempts')) tbody tr").count()) >= 1, "recent failures listed");
await shot(page, "health");
await page.click("table:has(caption:text('Recent failed attempts')) a:has-text('Message')");
await page.waitForSelector("h2:has-text('order.refunded')");
await page.waitForSelector("td.bad:has-text('Failed')");

// The catalogue, with the schema and the example payload.
await page.click("nav button:has-text('Event types')");
await page.waitForSelector("section[data-type='order.paid']");
assert.ok((await page.textContent("section[data-type='order.paid'] pre.schema")).includes("amount"), "the schema is shown");
assert.ok((await page.textContent("section[data-type='order.paid'] pre.example")).includes("1250"), "the example is shown");
await accessible(page, "event types");

// The message log: thousands, paged through to the end and back, none twice.
await page.click("nav button:has-text('Messages')");
await page.waitForSelector("#log-page:has-text('Page 1')");
const seen = new Set();
for (let pageNo = 1; ; pageNo++) {
  await page.waitForSelector(`#log-page:has-text('Page ${pageNo}')`);
  for (const id of await page.locator("tbody tr td:first-child").allTextContents()) {
    assert.ok(!seen.has(id), `message ${id} listed twice`);
    seen.add(id);
  }
  if (await page.isDisabled("button:has-text('Older')")) break;
  await page.click("button:has-text('Older')");
}
assert.equal(seen.size, Number(LOG_SIZE) + 1, "every message, the test event included");
await page.click("button:has-text('Newer')");
await page.waitForSelector("#log-page:has-text('Page'):not(:has-text('Page 1'))");

// Filtered by event type, then by endpoint and status.
await page.selectOption("#log-type", "order.refunded");
await page.waitForFunction(() => document.querySelectorAll("tbody tr").length === 3);
assert.ok(await page.isDisabled("#log-status"), "status needs an endpoint");
await page.selectOption("#log-type", "");
await page.waitForFunction(() => document.querySelectorAll("tbody tr").length === 50);
await page.selectOption("#log-endpoint", { label: `${BROKEN}/down` });
await page.selectOption("#log-status", "2");
await page.waitForFunction(() => document.querySelectorAll("tbody tr").length === 3 && [...document.querySelectorAll("tbody td.bad")].length === 3);
await shot(page, "messages");
await page.selectOption("#log-status", "0");
await page.waitForSelector("text=No messages.");
await page.selectOption("#log-endpoint", { label: `${RECEIVER}/hook` });
await page.waitForSelector("tbody td.good:has-text('Delivered')");
await accessible(page, "message log");

// One message: its payload, where it went, its attempts; resending it.
await page.click("tbody td a");
await page.waitForSelector("h3:has-text('Attempts')");
await page.waitForSelector("td.good:has-text('Delivered')");
assert.ok((await page.textContent("#view pre")).includes("1250"), "the payload is shown");
await page.click("button:has-text('Resend')");
await page.waitForSelector("text=Sent again to");
await eventually(
  page,
  "nav button:has-text('Messages')",
  async () => {
    await page.click("tbody td a", { timeout: 500 });
    await page.waitForFunction(() => document.querySelectorAll("td.good").length >= 3, null, { timeout: 500 });
  },
  "the resent attempt",
);
await accessible(page, "message view");
await shot(page, "message");

// Recovering what failed since a time: the failing endpoint, enabled again, gets its refunds
// again (web/tests/it/portal.rs sees them arrive).
await openEndpoint(page, `/down`);
await page.click("button:has-text('Enable')");
await page.waitForSelector("text=Endpoint enabled.");
await page.fill("#recover-since", "2020-01-01T00:00");
await page.click("button:has-text('Replay failed messages')");
await page.waitForSelector("text=Failed messages since then are being sent again.");

// Deleting an endpoint, once the browser's confirmation is accepted.
page.once("dialog", (dialog) => dialog.accept());
await page.click("nav button:has-text('Endpoints')");
await page.fill("form[aria-label='Add endpoint'] #endpoint-url", `${RECEIVER}/old`);
await page.click("button:has-text('Add endpoint')");
await page.click(`a:has-text('${RECEIVER}/old')`);
await page.click("button:has-text('Delete endpoint')");
await page.waitForSelector("text=Endpoint deleted.");
assert.equal(await page.locator(`a:has-text('${RECEIVER}/old')`).count(), 0, "the endpoint is gone");

// The dark theme an embedding page asks for is accessible too.
const dark = await tab();
await dark.goto(PORTAL_URL.replace("#", "?darkMode=true#"));
await dark.waitForSelector(`a:has-text('${RECEIVER}/hook')`);
assert.equal(await dark.evaluate(() => document.documentElement.dataset.theme), "dark");
await accessible(dark, "dark endpoint list");
await dark.click(`a:has-text('${RECEIVER}/hook')`);
await dark.waitForSelector("#health-state");
await accessible(dark, "dark endpoint view");
await dark.click("nav button:has-text('Messages')");
await dark.waitForSelector("#log-page");
await accessible(dark, "dark message log");

// A phone-width screen: nothing wider than it.
await page.setViewportSize({ width: 375, height: 800 });
for (const view of ["Endpoints", "Messages", "Event types"]) {
  await page.click(`nav button:has-text('${view}')`);
  await page.waitForSelector(`#view h2:has-text('${view}')`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `${view}: no sideways scrolling at phone width (${overflow}px over)`);
}

// Keyboard only: the skip link comes first in the page and shows when focused; from it, the
// navigation and a view.
await page.setViewportSize({ width: 1100, height: 900 });
const firstStop = await page.evaluate(
  () => [...document.querySelectorAll("a[href], button, input, select, textarea")].find((e) => e.tabIndex >= 0)?.textContent,
);
assert.equal(firstStop, "Skip to content", "the skip link is the first stop");
await page.focus("a.skip");
assert.ok(await page.evaluate(() => document.activeElement.getBoundingClientRect().left >= 0), "the focused skip link shows");
await page.keyboard.press("Tab");
assert.equal(await page.evaluate(() => document.activeElement.textContent), "Endpoints");
await page.keyboard.press("Enter");
await page.waitForFunction(() => document.activeElement.matches("#view h2"));

// Another application's link shows nothing of this one.
const other = await tab();
await other.goto(OTHER_URL);
await other.waitForSelector("text=Webhooks · Shop B");
await other.waitForSelector("text=No endpoints yet.");
assert.ok(!(await other.content()).includes(RECEIVER), "app B sees none of app A's endpoints");
await other.click("nav button:has-text('Messages')");
await other.waitForSelector("text=No messages.");

// Logging out ends the session: nothing stays on screen, and the next call is refused.
await page.click("#logout");
await page.waitForSelector("text=Logged out.");
assert.equal(await page.locator("#view *").count(), 0, "the view is cleared");
await page.click("nav button:has-text('Endpoints')");
await page.waitForSelector("text=expired or was revoked");

// The brief link closed itself when its token ended.
await brief.waitForSelector("#status.bad:has-text('This link has expired')", { timeout: 30000 });
assert.equal(await brief.locator("#view *").count(), 0, "nothing of the application stays");

for (const p of [page, brief, dark, other]) assert.deepEqual(p.errors, [], "no script errors");
await browser.close();
console.log("portal: every task passed");
