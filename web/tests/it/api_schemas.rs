//! Event type schemas enforced on publish (Herald's `enforceSchema`), on every backend: a payload
//! that does not match the newest schema gets a 422 naming each failing place and stores
//! nothing; a schema that cannot be enforced is refused when it is set, not at publish.

use serde_json::{Value, json};
use testkit::{Herald, on_every_backend};

/// An order with an integer id and items that each have a string sku (version 2; version 1 is
/// older and looser).
fn order_schemas() -> Value {
    json!({
        "1": {"type": "object"},
        "2": {
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": {"type": "integer"},
                "items": {"type": "array", "items": {"type": "object", "properties": {"sku": {"type": "string"}}}}
            }
        }
    })
}

/// Herald with application "a" and the event type `order.placed` (its schemas not enforced).
async fn with_orders(backend: testkit::Backend) -> Option<(Herald, testkit::Client)> {
    let herald = Herald::start(backend).await?;
    let api = herald.client("org-a");
    api.post("/app", &json!({"name": "A", "uid": "a"})).await;
    api.post("/event-type", &json!({"name": "order.placed", "description": "d", "schemas": order_schemas()})).await;
    Some((herald, api))
}

/// The places a 422 names, as dotted locations.
fn failing(body: &Value) -> Vec<String> {
    let detail = body["detail"].as_array().cloned().unwrap_or_default();
    detail
        .iter()
        .map(|d| d["loc"].as_array().into_iter().flatten().filter_map(Value::as_str).collect::<Vec<_>>().join("."))
        .collect()
}

on_every_backend! {
    async fn a_payload_that_breaks_an_enforced_schema_is_refused_where_it_breaks(backend) {
        let Some(herald) = Herald::start(backend).await else { return };
        let api = herald.client("org-a");
        api.post("/app", &json!({"name": "A", "uid": "a"})).await;
        let kind = json!({"name": "order.placed", "description": "d", "schemas": order_schemas(), "enforceSchema": true});
        let (status, created) = api.post("/event-type", &kind).await;
        assert_eq!((status, &created["enforceSchema"]), (201, &json!(true)), "{created}");

        let good = json!({"eventType": "order.placed", "payload": {"id": 7, "items": [{"sku": "a-1"}]}});
        assert_eq!(api.post("/app/a/msg", &good).await.0, 202);
        let bad = json!({"eventType": "order.placed", "payload": {"id": "seven", "items": [{"sku": "a-1"}, {"sku": 3}]}});
        let (status, body) = api.post("/app/a/msg", &bad).await;
        assert_eq!(status, 422, "{body}");
        let mut places = failing(&body);
        places.sort();
        assert_eq!(places, ["body.payload.id", "body.payload.items.1.sku"], "{body}");
        assert!(body["detail"][0]["msg"].as_str().is_some_and(|m| m.contains("schema version 2")), "{body}");
        assert_eq!(herald.db.count_rows("message").await, 1, "the refused message was not stored");
    }
}

on_every_backend! {
    async fn schemas_are_only_enforced_when_asked(backend) {
        // As in Svix: a schema alone documents the payload; it does not police it.
        let Some((_herald, api)) = with_orders(backend).await else { return };
        let bad = json!({"eventType": "order.placed", "payload": {"id": "seven"}});
        assert_eq!(api.post("/app/a/msg", &bad).await.0, 202);
        let unknown = json!({"eventType": "not.in.the.catalogue", "payload": {}});
        assert_eq!(api.post("/app/a/msg", &unknown).await.0, 202);
    }
}

on_every_backend! {
    async fn a_schema_that_cannot_be_enforced_is_refused_when_set(backend) {
        let Some(herald) = Herald::start(backend).await else { return };
        let api = herald.client("org-a");
        let (status, body) = api.post("/event-type", &json!({"name": "a.b", "description": "d", "enforceSchema": true})).await;
        assert_eq!((status, failing(&body)), (422, vec!["body.enforceSchema".to_owned()]), "no schema: {body}");
        let broken = json!({"name": "a.b", "description": "d", "schemas": {"1": {"type": "no-such-type"}}, "enforceSchema": true});
        let (status, body) = api.post("/event-type", &broken).await;
        assert_eq!(status, 422, "a schema that does not compile: {body}");
        let remote = json!({"1": {"$ref": "http://169.254.169.254/latest/meta-data"}});
        let fetching = json!({"name": "a.b", "description": "d", "schemas": remote, "enforceSchema": true});
        assert_eq!(api.post("/event-type", &fetching).await.0, 422, "a remote reference is never fetched");

        api.post("/event-type", &json!({"name": "a.b", "description": "d"})).await;
        let (status, body) = api.patch("/event-type/a.b", &json!({"enforceSchema": true})).await;
        assert_eq!(status, 422, "{body}");
        let (_, stored) = api.get("/event-type/a.b").await;
        assert_eq!(stored["enforceSchema"], false, "the refused change changed nothing: {stored}");
    }
}

on_every_backend! {
    async fn switching_enforcement_on_applies_to_the_next_message(backend) {
        let Some((_herald, api)) = with_orders(backend).await else { return };
        let bad = json!({"eventType": "order.placed", "payload": {"id": "seven"}});
        // Accepted, and what the event type enforces (nothing) is now cached by this process.
        assert_eq!(api.post("/app/a/msg", &bad).await.0, 202);
        assert_eq!(api.patch("/event-type/order.placed", &json!({"enforceSchema": true})).await.0, 200);
        assert_eq!(api.post("/app/a/msg", &bad).await.0, 422, "the change was not waited out");
    }
}
