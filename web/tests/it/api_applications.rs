//! Applications and event types through real HTTP on Postgres, MariaDB and SQLite; auth errors,
//! validation errors and pagination as Svix's clients expect them.

use serde_json::{Value, json};
use testkit::{Backend, Client, Herald, on_every_backend};

async fn application_lifecycle(api: &Client, name: &str) {
    // Create, with and without a uid.
    let (status, app) = api.post("/app", &json!({"name": "Acme", "uid": "acme-1", "metadata": {"tier": "gold"}})).await;
    assert_eq!(status, 201, "{name}: {app}");
    let id = app["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("app_"), "{name}: {id}");
    assert_eq!(app["uid"], "acme-1");
    assert_eq!(app["metadata"]["tier"], "gold");
    for key in ["createdAt", "updatedAt"] {
        assert!(app[key].as_str().is_some_and(|t| t.ends_with('Z')), "{name}: {key} in {app}");
    }

    // Get by id and by uid.
    assert_eq!(api.get(&format!("/app/{id}")).await, (200, app.clone()), "{name}");
    assert_eq!(api.get("/app/acme-1").await.1["id"], id.as_str(), "{name}");

    // A duplicate uid conflicts; get_if_exists returns the existing one.
    let (status, body) = api.post("/app", &json!({"name": "Other", "uid": "acme-1"})).await;
    assert_eq!(status, 409, "{name}: {body}");
    assert_eq!(body["code"], "conflict");
    let (status, body) = api.post("/app?get_if_exists=true", &json!({"name": "Other", "uid": "acme-1"})).await;
    assert_eq!((status, body["id"].as_str()), (200, Some(id.as_str())), "{name}");

    // PUT replaces, PATCH changes only what it names (null clears).
    let (status, body) =
        api.put("/app/acme-1", &json!({"name": "Acme Ltd", "uid": "acme-1", "throttleRate": 10})).await;
    assert_eq!(status, 200, "{name}: {body}");
    assert_eq!((body["name"].as_str(), body["throttleRate"].as_i64()), (Some("Acme Ltd"), Some(10)));
    assert_eq!(body["metadata"], json!({}), "PUT replaces metadata");
    let (status, body) = api.patch(&format!("/app/{id}"), &json!({"throttleRate": null, "metadata": {"a": "b"}})).await;
    assert_eq!(status, 200, "{name}: {body}");
    assert_eq!(body["throttleRate"], Value::Null);
    assert_eq!(body["name"], "Acme Ltd");
    assert_eq!(body["uid"], "acme-1");
    assert_eq!(body["metadata"], json!({"a": "b"}));

    // PUT on a missing uid creates it.
    let (status, body) = api.put("/app/made-by-put", &json!({"name": "Put"})).await;
    assert_eq!(status, 201, "{name}: {body}");
    assert_eq!(body["uid"], "made-by-put");

    // Delete, then it is gone.
    assert_eq!(api.delete("/app/made-by-put").await.0, 204, "{name}");
    assert_eq!(api.get("/app/made-by-put").await.0, 404, "{name}");
    assert_eq!(api.delete("/app/made-by-put").await.0, 404, "{name}");
}

async fn pagination(api: &Client, name: &str) {
    let mut ids = Vec::new();
    for i in 0..7 {
        let (status, app) = api.post("/app", &json!({"name": format!("page-{i}")})).await;
        assert_eq!(status, 201);
        ids.push(app["id"].as_str().expect("id").to_owned());
    }
    let mut seen = Vec::new();
    let mut iterator: Option<String> = None;
    loop {
        let path = match &iterator {
            Some(it) => format!("/app?limit=3&iterator={it}"),
            None => "/app?limit=3".to_owned(),
        };
        let (status, page) = api.get(&path).await;
        assert_eq!(status, 200, "{name}: {page}");
        let data = page["data"].as_array().expect("data");
        assert!(data.len() <= 3);
        seen.extend(data.iter().map(|a| a["id"].as_str().expect("id").to_owned()));
        if page["done"] == true {
            break;
        }
        iterator = page["iterator"].as_str().map(str::to_owned);
    }
    let created: Vec<&String> = seen.iter().filter(|id| ids.contains(id)).collect();
    assert_eq!(created, ids.iter().collect::<Vec<_>>(), "{name}: ascending by creation, each once");

    let (_, newest) = api.get("/app?limit=2&order=descending").await;
    assert_eq!(newest["data"][0]["id"], ids[6].as_str(), "{name}");
    assert_eq!(newest["data"][1]["id"], ids[5].as_str(), "{name}");
    assert_eq!(newest["done"], false);
    // prevIterator pages back to what came before.
    let (_, second) =
        api.get(&format!("/app?limit=2&order=descending&iterator={}", newest["iterator"].as_str().unwrap())).await;
    assert_eq!(second["data"][0]["id"], ids[4].as_str(), "{name}");
    let (_, back) =
        api.get(&format!("/app?limit=2&order=descending&iterator={}", second["prevIterator"].as_str().unwrap())).await;
    assert_eq!(back["data"], newest["data"], "{name}: prevIterator returns the previous page");
    // Out-of-range limits are clamped, wrong types are 422.
    assert_eq!(api.get("/app?limit=1000").await.0, 200);
    assert_eq!(api.get("/app?limit=lots").await.0, 422);
    assert_eq!(api.get("/app?order=sideways").await.0, 422);
}

async fn event_types(api: &Client, name: &str) {
    let (status, et) = api
        .post(
            "/event-type",
            &json!({"name": "user.signup", "description": "A user signed up", "schemas": {"1": {"type": "object"}}}),
        )
        .await;
    assert_eq!(status, 201, "{name}: {et}");
    assert_eq!(et["name"], "user.signup");
    assert_eq!(et["archived"], false);
    assert_eq!(api.post("/event-type", &json!({"name": "user.signup", "description": "again"})).await.0, 409);
    assert_eq!(api.post("/event-type", &json!({"name": "bad name!", "description": "x"})).await.0, 422);

    let (status, body) = api.patch("/event-type/user.signup", &json!({"deprecated": true})).await;
    assert_eq!((status, &body["deprecated"]), (200, &json!(true)), "{name}: {body}");
    assert_eq!(body["description"], "A user signed up");
    let (status, body) = api.put("/event-type/invoice.paid", &json!({"description": "Paid"})).await;
    assert_eq!(status, 201, "{name}: {body}");

    let (_, list) = api.get("/event-type").await;
    let names: Vec<&str> = list["data"].as_array().unwrap().iter().filter_map(|e| e["name"].as_str()).collect();
    assert_eq!(names, ["invoice.paid", "user.signup"], "{name}: ordered by name");
    assert_eq!(list["data"][1]["schemas"], Value::Null, "schemas only with_content");
    let (_, list) = api.get("/event-type?with_content=true").await;
    assert_eq!(list["data"][1]["schemas"]["1"]["type"], "object");

    // Delete archives; expunge removes.
    assert_eq!(api.delete("/event-type/invoice.paid").await.0, 204);
    assert_eq!(api.get("/event-type/invoice.paid").await.1["archived"], true);
    assert_eq!(api.get("/event-type").await.1["data"].as_array().unwrap().len(), 1);
    assert_eq!(api.get("/event-type?include_archived=true").await.1["data"].as_array().unwrap().len(), 2);
    assert_eq!(api.delete("/event-type/invoice.paid?expunge=true").await.0, 204);
    assert_eq!(api.get("/event-type/invoice.paid").await.0, 404);
}

on_every_backend! {
    async fn applications_are_created_read_replaced_patched_and_deleted(backend) {
        let Some(herald) = Herald::start(backend).await else { return };
        application_lifecycle(&herald.client("org-a"), backend.name()).await;
    }
}

on_every_backend! {
    async fn applications_page_forwards_in_creation_order(backend) {
        let Some(herald) = Herald::start(backend).await else { return };
        pagination(&herald.client("org-a"), backend.name()).await;
    }
}

on_every_backend! {
    async fn event_types_are_created_listed_archived_and_expunged(backend) {
        let Some(herald) = Herald::start(backend).await else { return };
        event_types(&herald.client("org-a"), backend.name()).await;
    }
}

on_every_backend! {
    async fn tenants_never_see_each_other(backend) {
        let Some(herald) = Herald::start(backend).await else { return };
        let (a, b) = (herald.client("org-a"), herald.client("org-b"));
        let (_, app) = a.post("/app", &json!({"name": "A's", "uid": "shared-uid"})).await;
        let id = app["id"].as_str().unwrap();
        a.post("/event-type", &json!({"name": "a.only", "description": "x"})).await;

        // Another org's ids answer exactly like missing ones, for every verb.
        for (status, body) in [
            b.get(&format!("/app/{id}")).await,
            b.get("/app/shared-uid").await,
            b.patch(&format!("/app/{id}"), &json!({"name": "stolen"})).await,
            b.delete(&format!("/app/{id}")).await,
            b.get("/event-type/a.only").await,
            b.get("/app/app_01NOSUCHAPPLICATION0000000").await,
        ] {
            assert_eq!((status, body["code"].as_str()), (404, Some("not_found")), "{}", backend.name());
        }
        assert_eq!(b.get("/app").await.1["data"], json!([]));
        assert_eq!(b.get("/event-type").await.1["data"], json!([]));
        // The same uid is free in another org.
        assert_eq!(b.post("/app", &json!({"name": "B's", "uid": "shared-uid"})).await.0, 201);
        assert_eq!(a.get(&format!("/app/{id}")).await.1["name"], "A's", "untouched");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_bad_and_revoked_tokens_get_401() {
    let Some(herald) = Herald::start(Backend::Sqlite).await else { return };
    let token = herald.token("org-a");
    for bad in ["", "sk_nonsense", "Bearer", &token.replace("sk_", "sk_X")] {
        let (status, body) = Client::new(&herald.address, bad).get("/app").await;
        assert_eq!(status, 401, "{bad:?}");
        assert_eq!(body["code"], "authentication_failed");
    }
    let no_header = testkit::http().get(format!("http://{}/api/v1/app", herald.address)).send().await.expect("request");
    assert_eq!(no_header.status(), 401);
    // A token with the right id but a wrong secret.
    let mut forged = token.clone();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(Client::new(&herald.address, &forged).get("/app").await.0, 401);

    let api = Client::new(&herald.address, &token);
    assert_eq!(api.get("/app").await.0, 200);
    let id = format!("tok_{}", &token[3..29]);
    let out = testkit::run_admin(&["token", "revoke", &id], &[("HERALD_DATABASE_URL", &herald.db.url)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Each process trusts a looked-up token for up to a second.
    let api = &api;
    let status = testkit::eventually(
        std::time::Duration::from_secs(3),
        move || async move { api.get("/app").await.0 },
        |s| *s == 401,
    )
    .await;
    assert_eq!(status, 401, "a revoked token must stop working within a second");
    // Health needs no token.
    assert_eq!(Client::new(&herald.address, "").get("/health/ping").await.0, 204);
    assert_eq!(Client::new(&herald.address, "").get("/health").await.0, 204);
}

on_every_backend! {
    async fn malformed_input_gets_4xx_and_changes_nothing(backend) {
        let Some(herald) = Herald::start(backend).await else { return };
        let api = herald.client("org-a");
        let cases = [
            ("POST", "/app", "application/json", "{\"name\":", 400),
            ("POST", "/app", "application/json", "{\"name\": 5}", 422),
            ("POST", "/app", "application/json", "[]", 422),
            ("POST", "/app", "application/json", "{}", 422),
            ("POST", "/app", "text/plain", "{\"name\":\"x\"}", 415),
            ("POST", "/app", "application/json", "{\"name\":\"\"}", 422),
            ("POST", "/app", "application/json", "{\"name\":\"x\",\"uid\":\"has space\"}", 422),
            ("POST", "/app", "application/json", "{\"name\":\"x\",\"throttleRate\":0}", 422),
            ("POST", "/app", "application/json", "{\"name\":\"x\",\"throttleRate\":70000}", 422),
            ("POST", "/app", "application/json", "{\"name\":\"x\",\"metadata\":{\"a\":1}}", 422),
            ("POST", "/event-type", "application/json", "{\"name\":\"x\"}", 422),
            ("POST", "/app", "application/json", "{\"name\":\"nul\\u0000inside\"}", 422),
            ("PATCH", "/app/nope", "application/json", "{}", 404),
        ];
        for (method, path, content_type, body, expected) in cases {
            let (status, reply) = api.raw(method, path, content_type, body).await;
            assert_eq!(status, expected, "{} {method} {path} {body}: {reply} {:?}", backend.name(), herald.problems());
            assert!(reply.get("detail").is_some(), "error body for {body}: {reply}");
        }
        // The server is healthy after every one of them (a failed extractor must not break a worker).
        assert_eq!(api.get("/app").await.1["data"], json!([]), "{}: nothing was created", backend.name());
        let oversized = format!("{{\"name\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
        assert_eq!(api.raw("POST", "/app", "application/json", &oversized).await.0, 413);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn paths_with_a_trailing_slash_route_like_those_without() {
    let Some(herald) = Herald::start(Backend::Sqlite).await else { return };
    let api = herald.client("org-a");
    // As Svix's documentation writes them.
    let (status, app) = api.post("/app/", &json!({"name": "Shop", "uid": "shop"})).await;
    assert_eq!(status, 201, "{app}");
    let (status, got) = api.get("/app/shop/").await;
    assert_eq!((status, &got["id"]), (200, &app["id"]));
    let (status, list) = api.get("/app/?limit=1").await;
    assert_eq!((status, list["data"].as_array().map(Vec::len)), (200, Some(1)), "{list}");
    // Only the trailing slash is forgiven: an unknown path is still a 404 with an error body.
    let (status, body) = api.get("/app/shop/nothing-here/").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")), "{body}");
}
