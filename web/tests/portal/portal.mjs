// Walks a customer's tasks in the consumer portal, in headless Chromium, against a running
// formation (web/tests/it/portal.rs starts it and passes what is needed in the environment):
//   PORTAL_URL   the app-portal link of the customer's application (app A)
//   OTHER_URL    the link of another application of the same organisation (app B)
//   RECEIVER     a receiver URL for the endpoint the customer adds
//   CHROMIUM     the browser's executable
//   SCREENSHOTS  a directory for screenshots of the main views (optional)
// Exits non-zero, saying what failed, on the first surprise.

import { chromium } from "playwright-core";
import AxeBuilder from "@axe-core/playwright";
import assert from "node:assert/strict";

const { PORTAL_URL, OTHER_URL, RECEIVER, CHROMIUM, SCREENSHOTS } = process.env;
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
const shots = async (page, name) => SCREENSHOTS && page.screenshot({ path: `${SCREENSHOTS}/portal-${name}.png`, fullPage: true });

/** No serious or critical accessibility violations on the page as it is now. */
async function accessible(page, where) {
  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.help}`), [], `${where}: accessibility`);
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

const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
const page = await context.newPage();
const errors = [];
page.on("pageerror", (e) => errors.push(e.message));
page.on("console", (m) => m.type() === "error" && errors.push(m.text()));

// Opening the link: the application's name, and the token gone from the address bar.
await page.goto(PORTAL_URL);
await page.waitForSelector("text=Webhooks · Shop A");
assert.equal(new URL(page.url()).hash, "", "the token leaves the address bar");
await page.waitForSelector("text=No endpoints yet.");
await accessible(page, "empty endpoint list");

// Adding an endpoint for one event type chosen from the catalogue.
await page.fill("#endpoint-url", `${RECEIVER}/hook`);
await page.fill("#endpoint-description", "Orders");
await page.check("input[type=checkbox][value='order.paid']");
await page.click("button:has-text('Add endpoint')");
await page.waitForSelector("text=Endpoint added.");
await page.waitForSelector(`a:has-text('${RECEIVER}/hook')`);
assert.ok(await page.isVisible("td:has-text('order.paid')"), "the filter is listed");
await accessible(page, "endpoint list");
await shots(page, "endpoints");

// The endpoint: its secret, a test event, disabling and enabling.
await page.click(`a:has-text('${RECEIVER}/hook')`);
await page.waitForSelector("h2:has-text('Signing secret')");
await page.click("button:has-text('Reveal secret')");
await page.waitForSelector("code:has-text('whsec_')");
const first = await page.textContent("code");
await page.click("button:has-text('Rotate secret')");
await page.waitForFunction((old) => document.querySelector("code").textContent !== old, first);
await page.selectOption("#test-type", "order.paid");
await page.click("button:has-text('Send test event')");
await page.waitForSelector("text=Test event sent");
await page.click("button:has-text('Disable')");
await page.waitForSelector("text=Endpoint disabled.");
await page.waitForSelector("span.bad:has-text('Disabled')");
await page.click("button:has-text('Enable')");
await page.waitForSelector("text=Endpoint enabled.");
await accessible(page, "endpoint view");
await shots(page, "endpoint");

// The catalogue, with the schema.
await page.click("nav button:has-text('Event types')");
await page.waitForSelector("section[aria-label='order.paid']");
assert.ok((await page.textContent("section[aria-label='order.paid'] pre")).includes("amount"), "the schema is shown");
await accessible(page, "event types");

// The message log: the test event and its successful attempt.
await eventually(page, "nav button:has-text('Messages')", async () => {
  await page.waitForSelector("td:has-text('order.paid')", { timeout: 500 });
}, "the test event in the log");
await page.click("td a");
await eventually(
  page,
  "nav button:has-text('Messages')",
  async () => {
    await page.click("td a", { timeout: 500 });
    await page.waitForSelector("td.good:has-text('Delivered')", { timeout: 500 });
  },
  "a delivered attempt",
);
await accessible(page, "message view");
await shots(page, "message");

// A phone-width screen: nothing wider than it.
await page.setViewportSize({ width: 375, height: 800 });
await page.click("nav button:has-text('Endpoints')");
await page.waitForSelector(`a:has-text('${RECEIVER}/hook')`);
const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
assert.ok(overflow <= 0, `no sideways scrolling at phone width (${overflow}px over)`);

// Another application's link shows nothing of this one.
const other = await browser.newContext();
const otherPage = await other.newPage();
await otherPage.goto(OTHER_URL);
await otherPage.waitForSelector("text=Webhooks · Shop B");
await otherPage.waitForSelector("text=No endpoints yet.");
assert.ok(!(await otherPage.content()).includes(`${RECEIVER}/hook`), "app B sees none of app A's endpoints");

// Logging out ends the session: the next call is refused.
await page.click("#logout");
await page.waitForSelector("text=Logged out.");
await page.click("nav button:has-text('Endpoints')");
await page.waitForSelector("text=expired or was revoked");

assert.deepEqual(errors.filter((e) => !e.includes("401")), [], "no script errors");
await browser.close();
console.log("portal: every task passed");
