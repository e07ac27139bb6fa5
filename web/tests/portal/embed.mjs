// Embeds the consumer portal the way a sender's dashboard does: a page on another origin
// renders npm svix-react's AppPortal (its UMD build, on React 18's) with the `url` Herald
// returned and theme props, and headless Chromium checks that Herald's portal shows inside the
// frame, themed, and resized by its height messages; and that the same page on an origin not
// allowed gets nothing. The environment says:
//   PORTAL_URL   the app-portal link      EMBED_PORT  the port to serve the dashboard page on
//   CHROMIUM     the browser's executable
// (svix-react's UMD build also takes the `svix` SDK as a global, which AppPortal never uses; the
// page does not load it.)

import { chromium } from "playwright-core";
import AxeBuilder from "@axe-core/playwright";
import assert from "node:assert/strict";
import http from "node:http";
import { readFile } from "node:fs/promises";

const { PORTAL_URL, EMBED_PORT, CHROMIUM } = process.env;
const files = {
  "/react.js": "node_modules/react/umd/react.production.min.js",
  "/react-dom.js": "node_modules/react-dom/umd/react-dom.production.min.js",
  "/svix-react.js": "node_modules/svix-react/dist/svix-react.umd.js",
  "/svix-react.css": "node_modules/svix-react/dist/style.css",
};
const page = `<!doctype html><html lang="en"><head><title>Dashboard</title>
<link rel="stylesheet" href="/svix-react.css"></head><body><h1>Your dashboard</h1><div id="root"></div>
<script src="/react.js"></script><script src="/react-dom.js"></script><script src="/svix-react.js"></script>
<script src="/main.js"></script></body></html>`;
const main = `ReactDOM.createRoot(document.getElementById("root")).render(
  React.createElement(SvixReact.AppPortal, { url: ${JSON.stringify(PORTAL_URL)}, darkMode: true, primaryColor: "#7c3aed", fullSize: true }));`;

const server = http.createServer(async (req, res) => {
  if (req.url === "/") return res.writeHead(200, { "content-type": "text/html" }).end(page);
  if (req.url === "/main.js") return res.writeHead(200, { "content-type": "text/javascript" }).end(main);
  const file = files[req.url];
  if (!file) return res.writeHead(404).end();
  const type = file.endsWith(".css") ? "text/css" : "text/javascript";
  res.writeHead(200, { "content-type": type }).end(await readFile(file));
});
await new Promise((ok) => server.listen(Number(EMBED_PORT), "127.0.0.1", ok));

const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });

// The same dashboard served from an origin Herald does not allow (`localhost` rather than
// `127.0.0.1`): the browser refuses to show the portal in its frame.
const refused = await browser.newPage();
const blocked = new Promise((ok) => refused.on("console", (m) => m.text().includes("frame-ancestors") && ok(m.text())));
await refused.goto(`http://localhost:${EMBED_PORT}/`);
await refused.locator("iframe").waitFor();
const why = await Promise.race([blocked, new Promise((ok) => setTimeout(() => ok(null), 15000))]);
assert.ok(why, "the browser reports the frame refused by frame-ancestors");
for (const frame of refused.frames().filter((f) => f !== refused.mainFrame())) {
  const shown = await frame.evaluate(() => document.querySelector("#title")?.textContent ?? null).catch(() => null);
  assert.equal(shown, null, "nothing of the portal shows on a refused origin");
}
await refused.close();

const tab = await (await browser.newContext()).newPage();
await tab.goto(`http://127.0.0.1:${EMBED_PORT}/`);
const frame = tab.frameLocator("iframe");
await frame.locator("text=Webhooks · Shop A").waitFor();
await frame.locator("text=No endpoints yet.").waitFor();
// The theme props reached the portal.
const portal = tab.frames().find((f) => f.url().includes("/portal/"));
assert.ok(portal, "the portal is in a frame");
const theme = await portal.evaluate(() => ({
  dark: document.documentElement.dataset.theme,
  primary: document.documentElement.style.getPropertyValue("--primary"),
}));
assert.deepEqual(theme, { dark: "dark", primary: "#7c3aed" });
// Themed by the embedding page, it stays readable: text on the primary colour is chosen for
// contrast, and axe (which checks inside the frame too) finds nothing serious.
// (The iframe element itself is svix-react's, which gives it no title: that rule is left out.)
const axe = await new AxeBuilder({ page: tab }).disableRules(["frame-title"]).analyze();
const bad = axe.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
assert.deepEqual(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target).join(" ")})`), [], "themed embed: accessibility");
// With `fullSize`, AppPortal sizes its frame from the portal's height messages.
await tab.waitForFunction(() => {
  const frame = document.querySelector("iframe");
  return frame && /^\d+px$/.test(frame.style.height) && parseInt(frame.style.height, 10) > 100;
});
await browser.close();
server.close();
console.log("embed: the portal shows in svix-react's AppPortal, and only there");
