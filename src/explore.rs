//! The `/explore` page: a picture of the graph (search, neighbourhood, expand, citations,
//! paths), plain JavaScript over the GraphQL API with cytoscape.js vendored from npm in
//! `static/explore/`, compiled into the binary so that it needs no outside network.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "explore.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../static/explore/explore.js"),
    },
    Asset {
        name: "explore.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../static/explore/explore.css"),
    },
    Asset {
        name: "cytoscape.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../static/explore/cytoscape.min.js"),
    },
];

const PAGE: &str = include_str!("../static/explore/index.html");

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/explore").route(crate::http::get_or_head().to(page)))
        .service(web::resource("/explore/").route(crate::http::get_or_head().to(page)))
        .service(web::resource("/explore/assets/{name}").route(crate::http::get_or_head().to(asset)));
}

async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(PAGE)
}

async fn asset(name: web::Path<String>) -> HttpResponse {
    match ASSETS.iter().find(|a| a.name == name.as_str()) {
        // The page's own script changes with the server; revalidate it, keep the library a day.
        Some(a) => HttpResponse::Ok()
            .content_type(a.content_type)
            .insert_header((
                header::CACHE_CONTROL,
                if a.name.starts_with("cytoscape") { "public, max-age=86400" } else { "no-cache" },
            ))
            .body(a.bytes),
        None => HttpResponse::NotFound().content_type("text/plain; charset=utf-8").body("no such asset"),
    }
}
