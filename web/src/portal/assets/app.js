// Herald's consumer portal: a small client of Herald's own API, scoped by an app-portal token.
// This module starts it: the session, the embedding page's theme, the navigation, logging out,
// and ending the session when the token expires.

import { call, endSession, hooks, openSession, state } from "./api.js";
import { $, attempt, say, stopRenders } from "./dom.js";
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
    const hex = color.replace("#", "");
    root.style.setProperty("--primary", `#${hex}`);
    root.style.setProperty("--on-primary", readableOn(hex));
  }
  const font = query.get("fontFamily");
  if (font && /^[\w .-]{1,64}$/.test(font)) {
    root.style.setProperty("--font", `"${font}", system-ui, sans-serif`);
  }
}

/** Black or white, whichever reads better on the colour `hex` (WCAG's contrast ratio). */
function readableOn(hex) {
  const full = hex.length === 3 ? [...hex].map((c) => c + c).join("") : hex;
  const [r, g, b] = [0, 2, 4].map((i) => {
    const c = parseInt(full.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  return (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) ? "#000000" : "#ffffff";
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

/** Ends the page's session: nothing of the application stays on screen, nor comes back. */
function close(message) {
  endSession();
  stopRenders();
  $("#view").replaceChildren();
  $("#expiry").textContent = "";
  say(message, true);
  $("#main").focus();
}

/**
 * Shows when the link stops working, and closes the session then: by a timer, and by a check
 * when the tab is shown again and each half minute (a sleeping machine delays timers).
 */
function expireAt(seconds) {
  if (!seconds) return;
  const end = seconds * 1000;
  $("#expiry").textContent = `This link works until ${new Date(end).toLocaleString()}.`;
  const check = () => state.session && Date.now() >= end && close("This link has expired. Ask for a new one.");
  // Timers hold at most ~24.8 days; a portal token lives a week at most.
  setTimeout(check, Math.min(end - Date.now(), 2 ** 31 - 1) + 50);
  setInterval(check, 30000);
  document.addEventListener("visibilitychange", check);
}

const views = { endpoints, "event-types": eventTypes, messages };

async function start() {
  theme();
  reportHeight();
  if (!openSession()) {
    say("Open this portal with the link you were given; this one has expired or was never valid.", true);
    return;
  }
  hooks.ended = (message) => close(message);
  expireAt(state.session.expires);
  for (const button of document.querySelectorAll("nav button[data-view]")) {
    button.addEventListener("click", () => {
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
