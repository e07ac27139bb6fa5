//! Every list Herald serves pages forwards with `iterator` and backwards with `prevIterator`, in
//! both orders, on every backend: applications, event types, endpoints, messages, attempts by
//! endpoint and by message, the endpoints of a message and the messages of an endpoint.

use serde_json::{Value, json};
use std::time::Duration;
use testkit::{Client, Herald, Receiver, on_every_backend};

/// Items per list; pages of 3 make pages of 3, 3 and 1.
const ITEMS: usize = 7;
const LIMIT: usize = 3;

fn keys(page: &Value, key: &str) -> Vec<String> {
    page["data"].as_array().expect("data").iter().map(|item| item[key].as_str().expect("key").to_owned()).collect()
}

fn with_query(path: &str, query: &str) -> String {
    format!("{path}{}{query}", if path.contains('?') { '&' } else { '?' })
}

/// Walks `path` in `order` page by page and checks that every page's `prevIterator` leads back to
/// exactly the page before it; returns the keys in the order walked.
async fn walk(api: &Client, path: &str, key: &str, order: &str) -> Vec<String> {
    let first = with_query(path, &format!("limit={LIMIT}&order={order}"));
    let (status, mut page) = api.get(&first).await;
    assert_eq!(status, 200, "{first}: {page}");
    let mut pages: Vec<Vec<String>> = Vec::new();
    loop {
        let got = keys(&page, key);
        assert!(got.len() <= LIMIT, "{path} {order}: {page}");
        if let Some(previous) = pages.last() {
            let back = page["prevIterator"].as_str().expect("prevIterator");
            let (_, before) = api.get(&with_query(path, &format!("limit={LIMIT}&order={order}&iterator={back}"))).await;
            assert_eq!(&keys(&before, key), previous, "{path} {order}: prevIterator leads to the page before");
        }
        pages.push(got);
        if page["done"] == true {
            break;
        }
        let next = page["iterator"].as_str().expect("iterator").to_owned();
        page = api.get(&with_query(path, &format!("limit={LIMIT}&order={order}&iterator={next}"))).await.1;
        assert!(pages.len() <= ITEMS + 1, "{path} {order}: never done");
    }
    // Back from the first page there is nothing.
    let (_, first_page) = api.get(&first).await;
    let back = first_page["prevIterator"].as_str().expect("prevIterator");
    let (_, before) = api.get(&with_query(path, &format!("limit={LIMIT}&order={order}&iterator={back}"))).await;
    assert_eq!(keys(&before, key), Vec::<String>::new(), "{path} {order}: nothing before the first page");
    pages.concat()
}

/// Checks `path` pages through exactly `expected` (ascending key order) both ways in both orders.
async fn pages_both_ways(api: &Client, name: &str, path: &str, key: &str, mut expected: Vec<String>) {
    expected.sort();
    assert_eq!(expected.len(), ITEMS, "{name} {path}: the fixture");
    assert_eq!(walk(api, path, key, "ascending").await, expected, "{name} {path} ascending");
    expected.reverse();
    assert_eq!(walk(api, path, key, "descending").await, expected, "{name} {path} descending");
}

on_every_backend! {
    async fn every_list_pages_forwards_and_backwards_in_both_orders(backend) {
        let receiver = Receiver::start(|_| 200);
        let Some(mut herald) = Herald::start(backend).await else { return };
        herald.start_worker(&[("HERALD_DELIVERY_ALLOWED_CIDRS", r#"["127.0.0.0/8"]"#)]);
        let name = backend.name();
        let api = herald.client("org-a");
        let mut apps = vec![api.post("/app", &json!({"name": "A", "uid": "a"})).await.1["id"].clone()];
        for i in 1..ITEMS {
            apps.push(api.post("/app", &json!({"name": format!("A{i}")})).await.1["id"].clone());
        }
        let mut types = Vec::new();
        for i in 0..ITEMS {
            let (_, created) = api.post("/event-type", &json!({"name": format!("t.{i}"), "description": "d"})).await;
            types.push(created["name"].clone());
        }
        let mut endpoints = Vec::new();
        for i in 0..ITEMS {
            let url = format!("{}/{i}", receiver.url);
            endpoints.push(api.post("/app/a/endpoint", &json!({ "url": url })).await.1["id"].clone());
        }
        let mut messages = Vec::new();
        for i in 0..ITEMS {
            messages
                .push(api.post("/app/a/msg", &json!({"eventType": "t.0", "payload": {"i": i}})).await.1["id"].clone());
        }
        assert_eq!(receiver.wait_for(ITEMS * ITEMS, Duration::from_secs(60)).await.len(), ITEMS * ITEMS, "{name}");
        let (ep, msg) = (endpoints[0].as_str().expect("id"), messages[0].as_str().expect("id"));
        let attempts_path = format!("/app/a/attempt/endpoint/{ep}");
        let (api_ref, first_page) = (&api, with_query(&attempts_path, "limit=250"));
        let recorded = testkit::eventually(
            Duration::from_secs(30),
            || async { api_ref.get(&first_page).await.1["data"].as_array().map_or(0, Vec::len) },
            |n| *n >= ITEMS,
        )
        .await;
        assert!(recorded >= ITEMS, "{name}: attempts recorded");
        let strings = |values: &[Value]| values.iter().map(|v| v.as_str().expect("id").to_owned()).collect::<Vec<_>>();
        let all = |path: String| {
            let api = &api;
            async move { keys(&api.get(&with_query(&path, "limit=250")).await.1, "id") }
        };

        pages_both_ways(&api, name, "/app", "id", strings(&apps)).await;
        pages_both_ways(&api, name, "/event-type", "name", strings(&types)).await;
        pages_both_ways(&api, name, "/app/a/endpoint", "id", strings(&endpoints)).await;
        pages_both_ways(&api, name, "/app/a/msg", "id", strings(&messages)).await;
        pages_both_ways(&api, name, &attempts_path, "id", all(attempts_path.clone()).await).await;
        let by_message = format!("/app/a/attempt/msg/{msg}");
        pages_both_ways(&api, name, &by_message, "id", all(by_message.clone()).await).await;
        pages_both_ways(&api, name, &format!("/app/a/msg/{msg}/endpoint"), "id", strings(&endpoints)).await;
        pages_both_ways(&api, name, &format!("/app/a/endpoint/{ep}/msg"), "id", strings(&messages)).await;
    }
}
