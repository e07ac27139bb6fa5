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
  status.className = bad ? "bad" : "";
  if (status.textContent === text && text) {
    // The same words again (a second failed try): emptied first, so screen readers say them.
    status.textContent = "";
    requestAnimationFrame(() => (status.textContent = text));
  } else {
    status.textContent = text;
  }
}

/** Runs `work`, showing its error (if any) in the status line. */
export async function attempt(work) {
  try {
    await work();
  } catch (error) {
    say(error.message, true);
  }
}

/** The newest render: a view's reply that comes back after a newer one started is dropped. */
let latest = 0;

/**
 * Starts a render of the view the navigation calls `nav`; returns the `show` for it, which
 * replaces the view only while this render is the newest (so quick clicks, or a reply arriving
 * after logout, never put older or ended data on screen). Focus follows: to the control of the
 * same id in the new view (a filter just changed), else, after a control was used, to the new
 * view's heading; on the first load it stays at the page's start.
 */
export function fresh(nav) {
  const mine = ++latest;
  return (...nodes) => {
    if (mine !== latest) return false;
    const active = document.activeElement;
    const used = active && active !== document.body;
    const id = used && $("#view").contains(active) ? active.id : "";
    $("#view").replaceChildren(...nodes);
    for (const button of document.querySelectorAll("nav button[data-view]")) {
      if (button.dataset.view === nav) button.setAttribute("aria-current", "page");
      else button.removeAttribute("aria-current");
    }
    const again = id && document.getElementById(id);
    const heading = $("#view h2");
    if (again) again.focus();
    else if (heading && used) {
      heading.tabIndex = -1;
      heading.focus({ preventScroll: true });
    }
    return true;
  };
}

/** Ends every render under way: nothing started before this shows. */
export function stopRenders() {
  latest++;
}

/** A time as the reader's locale writes it. */
export const when = (text) => (text ? new Date(text).toLocaleString() : "—");
