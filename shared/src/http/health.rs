//! `/health/alive` answers as soon as the port is open; `/health/ready` says whether this process
//! should get traffic: not stopping, database answering, migrations current, broker connected.

use crate::context::Context;
use crate::db::migrate;
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};
use std::time::Duration;

/// How long a readiness probe waits for the database.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Registers `/health/alive`, `/health/ready` and `/metrics`.
pub fn health_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health/alive", web::get().to(alive))
        .route("/health/ready", web::get().to(ready))
        .route("/metrics", web::get().to(metrics));
}

async fn metrics(state: web::Data<Context>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(state.metrics.render())
}

async fn alive() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "alive" }))
}

async fn ready(state: web::Data<Context>) -> HttpResponse {
    let (ok, body) = readiness_report(&state).await;
    if ok { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}

/// Runs every readiness check; returns whether all pass and a body naming each check's state.
pub async fn readiness_report(state: &Context) -> (bool, Value) {
    let mut checks = serde_json::Map::new();
    let mut ok = true;
    let mut check = |name: &str, passed: bool, detail: Value| {
        ok &= passed;
        let mut entry = json!({ "ok": passed });
        if let (Some(map), Value::Object(extra)) = (entry.as_object_mut(), detail) {
            map.extend(extra);
        }
        checks.insert(name.to_owned(), entry);
    };
    let draining = state.readiness.is_draining();
    check("shutdown", !draining, json!({ "state": if draining { "stopping" } else { "running" } }));
    let backend = state.db.backend().name();
    // The probe runs on its own task so that the timeout abandons the wait, not a half-done
    // database call (which would leave its pooled connection unusable).
    let db = state.db.clone();
    let probe = actix_web::rt::spawn(async move { migrate::status(&db).await });
    match tokio::time::timeout(PROBE_TIMEOUT, probe).await {
        Ok(Err(join)) => {
            check("database", false, json!({ "backend": backend, "error": join.to_string() }));
            check("migrations", false, json!({ "error": "unknown while the database is unreachable" }));
        }
        Ok(Ok(Ok(status))) => {
            check("database", true, json!({ "backend": backend }));
            check("migrations", status.pending.is_empty(), json!({ "pending": status.pending }));
        }
        Ok(Ok(Err(e))) => {
            check("database", false, json!({ "backend": backend, "error": e.to_string() }));
            check("migrations", false, json!({ "error": "unknown while the database is unreachable" }));
        }
        Err(_) => {
            check(
                "database",
                false,
                json!({ "backend": backend, "error": format!("no answer within {PROBE_TIMEOUT:?}") }),
            );
            check("migrations", false, json!({ "error": "unknown while the database is unreachable" }));
        }
    }
    if let Some(directory) = state.readiness.disk().map(std::path::Path::to_path_buf) {
        match actix_web::rt::task::spawn_blocking(move || fs4::available_space(directory)).await {
            Ok(Ok(free)) => {
                let writable = free >= crate::db::sqlite_upkeep::WRITABLE_SPACE;
                check("disk", writable, json!({ "free_bytes": free }));
            }
            Ok(Err(e)) => check("disk", false, json!({ "error": e.to_string() })),
            Err(e) => check("disk", false, json!({ "error": e.to_string() })),
        }
    }
    if state.readiness.broker_configured() {
        check("broker", state.readiness.broker_connected(), json!({}));
    }
    let status = if ok { "ready" } else { "unavailable" };
    (ok, json!({ "status": status, "checks": checks }))
}
