//! The consumer portal under `/portal/`: the page a sender's customers manage their webhooks on,
//! opened with the link `auth/app-portal-access` returns. It is a small client of this server's
//! own API (HTML, a few ES modules, one style sheet, all compiled into the binary; no build step): the
//! app-portal token travels in the URL's fragment, which browsers never send to a server, so a
//! page rendered on the server could not have it without putting it in a request. A strict
//! Content-Security-Policy allows nothing from anywhere but this server, and framing only by the
//! origins `serve.portal_frame_ancestors` names.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};
use herald::context::Context;

const INDEX: &str = include_str!("assets/index.html");
const STYLE: &str = include_str!("assets/app.css");

/// The page's script modules, by file name: each view in its own.
const SCRIPTS: [(&str, &str); 7] = [
    ("app.js", include_str!("assets/app.js")),
    ("api.js", include_str!("assets/api.js")),
    ("dom.js", include_str!("assets/dom.js")),
    ("endpoints.js", include_str!("assets/endpoints.js")),
    ("endpoint.js", include_str!("assets/endpoint.js")),
    ("catalogue.js", include_str!("assets/catalogue.js")),
    ("messages.js", include_str!("assets/messages.js")),
];

/// Registers the routes. Paths arrive with any trailing slash trimmed (the server normalises
/// them), so the page is `/portal`; the links handed out say `/portal/`, against which the page's
/// relative asset paths resolve (relative, so a `serve.public_url` with a path prefix works).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/portal", web::get().to(index))
        .route("/portal/app.css", web::get().to(style))
        .route("/portal/{script}.js", web::get().to(script));
}

/// The policy: this server's own script, style and API only; framed by the configured origins.
fn policy(frame_ancestors: &[String]) -> String {
    let ancestors = if frame_ancestors.is_empty() { "'none'".to_owned() } else { frame_ancestors.join(" ") };
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; \
         base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}"
    )
}

fn asset(context: &Context, content_type: &'static str, body: &'static str) -> HttpResponse {
    let ancestors = context.config.with(|c| c.serve.portal_frame_ancestors.clone());
    let mut response = HttpResponse::Ok();
    response
        .content_type(content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, policy(&ancestors)))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .insert_header((header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")));
    response.body(body)
}

async fn index(context: web::Data<Context>) -> HttpResponse {
    asset(&context, "text/html; charset=utf-8", INDEX)
}

/// One of the page's modules; any other name is a 404 (nothing is read from disk).
async fn script(context: web::Data<Context>, name: web::Path<String>) -> HttpResponse {
    let file = format!("{name}.js");
    match SCRIPTS.iter().find(|(known, _)| *known == file) {
        Some((_, body)) => asset(&context, "text/javascript; charset=utf-8", body),
        None => HttpResponse::NotFound().finish(),
    }
}

async fn style(context: web::Data<Context>) -> HttpResponse {
    asset(&context, "text/css; charset=utf-8", STYLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_frames_only_where_configured() {
        assert!(policy(&[]).ends_with("frame-ancestors 'none'"));
        let framed = policy(&["https://dash.example.com".into(), "'self'".into()]);
        assert!(framed.ends_with("frame-ancestors https://dash.example.com 'self'"), "{framed}");
        assert!(!framed.contains("unsafe"), "{framed}");
    }
}
