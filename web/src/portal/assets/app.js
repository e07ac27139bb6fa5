// Herald's consumer portal: a small client of Herald's own API, scoped by an app-portal token.
// This module starts it: the session, the embedding page's theme, the navigation, logging out,
// and ending the session when the token expires.

import { call, endSession, openSession, state } from "./api.js";
import { $, attempt, say } from "./dom.js";
import { eventTypes } from "./catalogue.js";
import { endpoints } from "./endpoints.js";
import { messages } from "./messages.js";

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

/** Ends the page's session: nothing of the application stays on screen. */
function close(message) {
  endSession();
  $("#view").replaceChildren();
  $("#expiry").textContent = "";
  say(message, true);
}

/** Shows when the link stops working, and closes the session then. */
function expireAt(seconds) {
  if (!seconds) return;
  const left = seconds * 1000 - Date.now();
  $("#expiry").textContent = `This link works until ${new Date(seconds * 1000).toLocaleString()}.`;
  // Timers hold at most ~24.8 days; a portal token lives a week at most.
  setTimeout(() => close("This link has expired. Ask for a new one."), Math.min(left, 2 ** 31 - 1));
}

const views = { endpoints, "event-types": eventTypes, messages };

async function start() {
  theme();
  reportHeight();
  if (!openSession()) {
    say("Open this portal with the link you were given; this one has expired or was never valid.", true);
    return;
  }
  expireAt(state.session.expires);
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
      close("Logged out.");
    }),
  );
  await attempt(async () => {
    const app = await call("GET", `/app/${encodeURIComponent(state.session.app)}`);
    $("#title").textContent = `Webhooks · ${app.name}`;
    document.title = `Webhooks · ${app.name}`;
    await endpoints();
  });
}

start();
