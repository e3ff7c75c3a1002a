//! The `/explore` page: a picture of the graph (search, neighbourhood, expand, citations,
//! paths), plain JavaScript over the GraphQL API with cytoscape.js vendored from npm in
//! `static/explore/`, compiled into the binary so that it needs no outside network.

use actix_web::{web, HttpResponse};

use crate::assets::{Asset, Cache};

const ASSETS: &[Asset] = &[
    Asset {
        name: "explore.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../static/explore/explore.js"),
        cache: Cache::Revalidate,
    },
    Asset {
        name: "explore.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../static/explore/explore.css"),
        cache: Cache::Revalidate,
    },
    Asset {
        name: "cytoscape.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../static/explore/cytoscape.min.js"),
        cache: Cache::Day,
    },
];

const PAGE: &str = include_str!("../static/explore/index.html");

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/explore").route(crate::http::get_or_head().to(page)))
        .service(web::resource("/explore/").route(crate::http::get_or_head().to(page)))
        .service(web::resource("/explore/assets/{name}").route(crate::http::get_or_head().to(asset)));
}

async fn page() -> HttpResponse {
    crate::assets::page(PAGE)
}

async fn asset(name: web::Path<String>) -> HttpResponse {
    crate::assets::serve(ASSETS, &name)
}
