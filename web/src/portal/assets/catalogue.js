// The event-type catalogue: what each event means, its schema, and an example payload.

import { catalogue, newestSchema } from "./api.js";
import { el, fresh } from "./dom.js";

export async function eventTypes() {
  const show = fresh("event-types");
  const types = await catalogue();
  const section = (t) => {
    const { schema, example } = newestSchema(t);
    const id = `type-${t.name.replace(/[^\w-]/g, "_")}`;
    return el(
      "section",
      { class: "card", "aria-labelledby": id, "data-type": t.name },
      el("h2", { id, text: t.name }),
      el("p", { text: t.description || "" }),
      el("h3", { text: "Schema" }),
      schema ? el("pre", { class: "schema", text: JSON.stringify(schema, null, 2) }) : el("p", { class: "muted", text: "No schema." }),
      el("h3", { text: "Example payload" }),
      example !== undefined
        ? el("pre", { class: "example", text: JSON.stringify(example, null, 2) })
        : el("p", { class: "muted", text: "No example." }),
    );
  };
  show(
    el("h2", { text: "Event types" }),
    ...(types.length ? types.map(section) : [el("p", { class: "muted", text: "No event types are documented." })]),
  );
}
