//! The API's own OpenAPI document at `/api/v1/openapi.json`, and a readable page at `/docs`.
//!
//! The operations and schemas are Svix's (extracted by `scripts/trim-openapi.py` from its MIT-
//! licensed document, the contract Herald implements); this module writes Herald's differences
//! into them, so the document describes what this server actually answers.

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};
use std::sync::OnceLock;

/// Svix's operations that Herald serves, with the schemas they use.
const SVIX_SUBSET: &str = include_str!("openapi/svix-subset.json");

/// Registers `/api/v1/openapi.json` (inside the `/api/v1` scope).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/openapi.json", web::get().to(document));
}

/// Registers `/docs` (at the root).
pub fn docs_route(cfg: &mut web::ServiceConfig) {
    cfg.route("/docs", web::get().to(docs));
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/HttpErrorOut" } } }
    })
}

/// The served document: Svix's operations with Herald's differences applied.
pub fn herald_document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        // The subset is generated and checked in; a parse failure is a build defect caught by tests.
        let mut doc: Value = serde_json::from_str(SVIX_SUBSET).unwrap_or_else(|_| json!({"paths": {}}));
        doc["info"]["version"] = json!(env!("CARGO_PKG_VERSION"));
        doc["servers"] = json!([{ "url": "/" }]);
        // Svix's API has since added retention in hours beside the days; Herald accepts both.
        if let Some(message_in) = doc["components"]["schemas"]["MessageIn"]["properties"].as_object_mut() {
            message_in.insert(
                "payloadRetentionHours".into(),
                json!({
                    "description": "How many hours the payload is kept; not together with payloadRetentionPeriod.",
                    "type": "integer", "format": "int64", "minimum": 1, "maximum": 2160
                }),
            );
        }
        // Herald's extension: an event type may require its messages to match its newest schema.
        for shape in ["EventTypeIn", "EventTypeUpdate", "EventTypePatch", "EventTypeOut"] {
            if let Some(fields) = doc["components"]["schemas"][shape]["properties"].as_object_mut() {
                fields.insert(
                    "enforceSchema".into(),
                    json!({
                        "description": "Herald: messages of this type are accepted only when their payload matches the newest schema (422 otherwise).",
                        "type": "boolean", "default": false
                    }),
                );
            }
        }
        // Herald's extension: why an endpoint is disabled, and since when it has been failing.
        if let Some(fields) = doc["components"]["schemas"]["EndpointOut"]["properties"].as_object_mut() {
            fields.insert(
                "disabledTrigger".into(),
                json!({
                    "description": "Herald: what disabled the endpoint, while disabled (null for endpoints disabled before Herald kept it).",
                    "type": "string", "enum": ["automatic", "manual"], "nullable": true
                }),
            );
            fields.insert(
                "failSince".into(),
                json!({
                    "description": "Herald: the start of the endpoint's current run of failed deliveries, if it is failing.",
                    "type": "string", "format": "date-time", "nullable": true
                }),
            );
        }
        let Some(paths) = doc["paths"].as_object_mut() else { return doc };
        for (path, operations) in paths.iter_mut() {
            let Some(operations) = operations.as_object_mut() else { continue };
            let shared: Vec<Value> = operations.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
            for (method, operation) in operations.iter_mut() {
                if !operation.is_object() || method == "parameters" {
                    continue;
                }
                declare_path_parameters(path, operation, &shared);
                let responses = &mut operation["responses"];
                if responses.get("401").is_none() {
                    responses["401"] = error_response("Unauthorized");
                }
                // Answers Herald gives that Svix's document leaves out.
                responses["400"] = error_response("Malformed request (e.g. invalid JSON)");
                responses["503"] = error_response("The database is unavailable");
                if matches!(method.as_str(), "post" | "put" | "patch") {
                    responses["413"] = error_response("Request body too large");
                    responses["415"] = error_response("Body is not JSON");
                }
                if method == "delete" && responses.get("204").is_none() {
                    responses["204"] = json!({ "description": "no content" });
                }
                if path.ends_with("/secret/rotate") {
                    // Svix's document says 204, but its SDKs read the new secret from the body.
                    if let Some(map) = responses.as_object_mut() {
                        map.remove("204");
                    }
                    responses["200"] = json!({
                        "description": "The new secret",
                        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/EndpointSecretOut" } } }
                    });
                }
            }
        }
        doc
    })
}

/// Svix's document leaves some path parameters undeclared; declare each `{name}` of the path.
fn declare_path_parameters(path: &str, operation: &mut Value, shared: &[Value]) {
    let declared = |name: &str, list: &[Value]| list.iter().any(|p| p["in"] == "path" && p["name"] == name);
    let names: Vec<String> =
        path.split('{').skip(1).filter_map(|rest| rest.split_once('}')).map(|(name, _)| name.to_owned()).collect();
    let own: Vec<Value> = operation["parameters"].as_array().cloned().unwrap_or_default();
    for name in names {
        if !declared(&name, &own) && !declared(&name, shared) {
            let parameter = json!({
                "name": name, "in": "path", "required": true,
                "schema": { "type": "string", "minLength": 1, "maxLength": 256, "pattern": "^[a-zA-Z0-9\\-_.]+$" }
            });
            match operation["parameters"].as_array_mut() {
                Some(list) => list.push(parameter),
                None => operation["parameters"] = json!([parameter]),
            }
        }
    }
}

async fn document() -> HttpResponse {
    HttpResponse::Ok().json(herald_document())
}

/// A self-contained page (no external assets) that renders the document.
const DOCS_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Herald API</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:0}.op{border:1px solid #ddd;border-radius:6px;margin:.6em 0;padding:.4em .8em}
.m{display:inline-block;min-width:4.5em;font-weight:700;font-family:monospace}.get{color:#06c}.post{color:#080}
.put{color:#a60}.patch{color:#a0a}.delete{color:#c00}code{background:#f4f4f4;padding:0 .2em}
details>summary{cursor:pointer}table{border-collapse:collapse;margin:.3em 0}td,th{border:1px solid #eee;padding:.1em .5em;text-align:left}
</style></head><body>
<h1>Herald API</h1><p>Compatible with Svix API v1. Machine-readable: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.
Authenticate with <code>Authorization: Bearer &lt;token&gt;</code> (<code>herald-admin token create</code>).</p>
<div id="ops">Loading…</div>
<script>
const esc=s=>String(s??"").replace(/[&<>"]/g,c=>({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));
const ref=s=>s&&s.$ref?s.$ref.split("/").pop():(s&&s.type)||"";
fetch("/api/v1/openapi.json").then(r=>r.json()).then(doc=>{
  const out=[];
  for(const [path,ops] of Object.entries(doc.paths)){
    for(const [m,op] of Object.entries(ops)){
      if(!op||!op.responses)continue;
      const params=(op.parameters||[]).map(p=>`<tr><td><code>${esc(p.name)}</code></td><td>${esc(p.in)}</td><td>${esc(ref(p.schema))}</td></tr>`).join("");
      const body=op.requestBody?ref(op.requestBody.content?.["application/json"]?.schema):"";
      const codes=Object.entries(op.responses).map(([c,r])=>`<code>${esc(c)}</code> ${esc(ref(r.content?.["application/json"]?.schema))}`).join(" · ");
      out.push(`<div class="op"><details><summary><span class="m ${m}">${m.toUpperCase()}</span> <code>${esc(path)}</code> — ${esc(op.summary)}</summary>
      <p>${esc(op.description)}</p>${params?`<table><tr><th>parameter</th><th>in</th><th>type</th></tr>${params}</table>`:""}
      ${body?`<p>Body: <code>${esc(body)}</code></p>`:""}<p>Responses: ${codes}</p></details></div>`);
    }
  }
  document.getElementById("ops").innerHTML=out.join("");
});
</script></body></html>"#;

async fn docs() -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(DOCS_PAGE)
}
