//! The `/documents` reader: a source document's full text, with every sentence the graph cites
//! highlighted and, for the one clicked, the relations and entity facts that cite it. It is the
//! way back from the graph to the words it was read from, for a journalist checking a fact.
//! Plain JavaScript over the GraphQL API (`Document.text`, `Document.passages`) in
//! `static/reader/`, compiled into the binary like `/explore`, so it needs no outside network.
//!
//! URLs, which other pages link to (keep them stable):
//! - `/documents`: the list of documents;
//! - `/documents/<slug>`: one document;
//! - `/documents/<slug>#at=<offset>`: the same, scrolled to the cited sentence holding character
//!   `offset` of the text and selected, where `offset` is a `Citation.offset` (Unicode scalar
//!   values). `/explore` links a citation here.
//!
//! The page is the same for every document; this module answers 404 itself, as an HTML page
//! naming the slug, when the slug is not a document's, so that a wrong link says so at once.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::assets::{Asset, Cache};

use crate::domain::EntityKind;
use crate::http::AppState;

const ASSETS: &[Asset] = &[
    Asset {
        name: "reader.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../static/reader/reader.js"),
        cache: Cache::Revalidate,
    },
    Asset {
        name: "reader.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../static/reader/reader.css"),
        cache: Cache::Revalidate,
    },
];

const PAGE: &str = include_str!("../static/reader/index.html");

/// The most characters of a requested slug a 404 page repeats: enough to recognise a typo, not
/// a way to have the server echo a long text.
const MAX_ECHOED_SLUG: usize = 100;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/documents").route(crate::http::get_or_head().to(list)))
        .service(web::resource("/documents/").route(crate::http::get_or_head().to(list)))
        .service(web::resource("/documents/assets/{name}").route(crate::http::get_or_head().to(asset)))
        .service(web::resource("/documents/{slug}").route(crate::http::get_or_head().to(document)));
}

fn html(status: actix_web::http::StatusCode, body: String) -> HttpResponse {
    // Revalidated every time: whether a slug is a document changes with the graph.
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

async fn list() -> HttpResponse {
    html(actix_web::http::StatusCode::OK, PAGE.to_string())
}

async fn document(slug: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    // With private reads, whether a slug exists is not for anonymous visitors to learn (a page
    // load carries no token); the page's own requests then get the server's answer.
    if state.private_reads {
        return html(actix_web::http::StatusCode::OK, PAGE.to_string());
    }
    let kind = {
        let g = state.service.read().await;
        g.entity_by_slug(&slug).map(|e| e.kind)
    };
    match kind {
        Some(EntityKind::Document) => html(actix_web::http::StatusCode::OK, PAGE.to_string()),
        other => html(actix_web::http::StatusCode::NOT_FOUND, not_found(&slug, other)),
    }
}

/// The 404 page: the slug asked for, and what it is when it names an entity that is not a
/// document.
fn not_found(slug: &str, kind: Option<EntityKind>) -> String {
    let shown = match slug.char_indices().nth(MAX_ECHOED_SLUG) {
        Some((cut, _)) => format!("{}…", &slug[..cut]),
        None => slug.to_string(),
    };
    let shown = escape(&shown);
    let detail = match kind {
        Some(k) => format!(
            "<p>“{shown}” is {} {}, not a document. <a href=\"/explore?slug={}\">See it in the graph</a>.</p>",
            if k.as_str().starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" },
            k.as_str(),
            // An existing slug is lowercase letters, digits and hyphens; encoded anyway.
            escape(&urlencode(slug)),
        ),
        None => format!("<p>No entity of the graph has the slug “{shown}”.</p>"),
    };
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="robots" content="noindex">
  <link rel="icon" href="data:,">
  <title>No document “{shown}” — policygraph</title>
  <link rel="stylesheet" href="/documents/assets/reader.css">
</head>
<body data-state="not-found">
  <header id="bar"><h1><a href="/documents">policygraph</a> <span>documents</span></h1>
    <nav><a href="/explore">Explore</a> <a href="/graphiql">GraphiQL</a></nav></header>
  <main id="notice">
    <h2>No document “{shown}”</h2>
    {detail}
    <p><a href="/documents">All documents</a></p>
  </main>
</body>
</html>
"#
    )
}

/// Text for HTML, in element content and in quoted attribute values alike.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes all but unreserved characters, for a query-string value.
fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn asset(name: web::Path<String>) -> HttpResponse {
    crate::assets::serve(ASSETS, &name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_404_page_names_the_slug_as_text_never_as_markup() {
        let page = not_found("<script>alert(1)</script>", None);
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        let long = "x".repeat(5_000);
        assert!(not_found(&long, None).len() < 2_000, "a long slug is cut");
        let page = not_found("iom", Some(EntityKind::Organization));
        assert!(page.contains("is an organization, not a document") && page.contains("/explore?slug=iom"), "{page}");
        assert!(not_found("a b\"", Some(EntityKind::Person)).contains("/explore?slug=a%20b%22"));
    }
}
