// End-to-end scenario with the official Svix JavaScript SDK (npm `svix`) against a running
// herald-web: the same steps as ../scenario.py, through the other official client.
//
// Usage: node scenario.mjs SERVER_URL TOKEN. Exits non-zero (with the failure) on any failure.

import assert from "node:assert/strict";
import { ApiException, Svix } from "svix";

async function rejectsWith(promise, status) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof ApiException, `expected an ApiException, got ${e}`);
    assert.equal(e.code, status, JSON.stringify(e.body));
    return e;
  }
  assert.fail(`expected HTTP ${status}`);
}

async function main(serverUrl, token) {
  const svix = new Svix(token, { serverUrl });

  const eventType = await svix.eventType.create({ name: "invoice.paid", description: "An invoice was paid" });
  assert.equal(eventType.name, "invoice.paid");

  const app = await svix.application.create({ name: "Acme", uid: "acme", metadata: { plan: "pro" } });
  assert.ok(app.id.startsWith("app_") && app.uid === "acme", JSON.stringify(app));
  assert.equal((await svix.application.get("acme")).id, app.id, "get by uid");
  const same = await svix.application.getOrCreate({ name: "Acme again", uid: "acme" });
  assert.equal(same.id, app.id, "get_if_exists returns the existing application");
  const patched = await svix.application.patch(app.id, { name: "Acme Inc" });
  assert.equal(patched.name, "Acme Inc");
  assert.deepEqual(patched.metadata, { plan: "pro" });

  const endpoint = await svix.endpoint.create(app.id, {
    url: "https://example.com/webhook",
    uid: "primary",
    filterTypes: ["invoice.paid"],
  });
  assert.ok(endpoint.id.startsWith("ep_"));
  const secret = (await svix.endpoint.getSecret(app.id, "primary")).key;
  assert.ok(secret.startsWith("whsec_"));
  await svix.endpoint.rotateSecret(app.id, endpoint.id, {});
  const rotated = (await svix.endpoint.getSecret(app.id, endpoint.id)).key;
  assert.ok(rotated.startsWith("whsec_") && rotated !== secret, "rotated");

  const sent = [];
  for (let i = 0; i < 5; i++) {
    const msg = await svix.message.create(
      app.id,
      { eventType: "invoice.paid", payload: { n: i }, eventId: `evt-${i}` },
      { withContent: true },
    );
    assert.ok(msg.id.startsWith("msg_"), JSON.stringify(msg));
    assert.deepEqual(msg.payload, { n: i });
    sent.push(msg.id);
  }
  await rejectsWith(svix.message.create(app.id, { eventType: "invoice.paid", payload: {}, eventId: "evt-0" }), 409);

  const seen = [];
  let iterator;
  for (;;) {
    const page = await svix.message.list(app.id, { limit: 2, iterator });
    seen.push(...page.data.map((m) => m.id));
    if (page.done) break;
    iterator = page.iterator;
  }
  assert.deepEqual(seen, [...sent].reverse());
  assert.equal((await svix.message.get(app.id, "evt-3")).id, sent[3], "get by event id");

  const apps = await svix.application.list({ limit: 10 });
  assert.deepEqual(
    apps.data.map((a) => a.id),
    [app.id],
  );

  const attempts = await svix.messageAttempt.listByMsg(app.id, sent[0]);
  assert.ok(attempts.data.length === 0 && attempts.done);
  await svix.messageAttempt.listByEndpoint(app.id, endpoint.id);

  const missing = await rejectsWith(svix.application.get("app_01NOSUCHAPPLICATION000000000"), 404);
  assert.equal(missing.body.code, "not_found");

  await svix.endpoint.delete(app.id, endpoint.id);
  await svix.application.delete(app.id);
  console.log("sdk scenario passed");
}

main(process.argv[2], process.argv[3]).catch((e) => {
  console.error(e);
  process.exit(1);
});
