// Building the page: every piece of data goes in as text (textContent), never as markup.

export const $ = (selector) => document.querySelector(selector);

/** An element with text, attributes, event handlers and children. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "text") node.textContent = value;
    else if (key === "on") for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

/** A table: `headings` are [text, class] pairs; the class `optional` hides a column on phones. */
export function table(caption, headings, rows) {
  const head = el("tr", {}, ...headings.map(([text, cls]) => el("th", { scope: "col", text, class: cls })));
  return el("table", {}, el("caption", { class: "visually-hidden", text: caption }), el("thead", {}, head), el("tbody", {}, ...rows));
}

/** A link that runs `action` instead of navigating. */
export function action(text, run) {
  return el("a", { href: "#", text, on: { click: (event) => (event.preventDefault(), attempt(run)) } });
}

/** A button that runs `run`, reporting its failure. */
export function button(text, run, props = {}) {
  return el("button", { type: "button", text, ...props, on: { click: () => attempt(run) } });
}

/** Says something in the status line (read out by screen readers). */
export function say(text, bad = false) {
  const status = $("#status");
  status.textContent = text;
  status.className = bad ? "bad" : "";
}

/** Runs `work`, showing its error (if any) in the status line. */
export async function attempt(work) {
  try {
    await work();
  } catch (error) {
    say(error.message, true);
  }
}

/**
 * Replaces the view. After a control was used, focus moves to the new view's heading, so
 * keyboard and screen-reader users follow; on the first load it stays at the page's start.
 */
export function show(...nodes) {
  const used = document.activeElement && document.activeElement !== document.body;
  $("#view").replaceChildren(...nodes);
  const heading = $("#view h2");
  if (heading && used) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
}

/** A time as the reader's locale writes it. */
export const when = (text) => (text ? new Date(text).toLocaleString() : "—");
