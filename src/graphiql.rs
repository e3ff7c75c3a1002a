//! GraphiQL, served from the binary: the page and the vendored GraphiQL, GraphiQL Explorer
//! plugin and React builds (`static/graphiql/`, from npm), so that it works with no internet.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "init.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../static/graphiql/init.js"),
    },
    Asset {
        name: "graphiql.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../static/graphiql/graphiql.min.js"),
    },
    Asset {
        name: "graphiql.min.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../static/graphiql/graphiql.min.css"),
    },
    Asset {
        name: "graphiql-plugin-explorer.umd.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../static/graphiql/graphiql-plugin-explorer.umd.js"),
    },
    Asset {
        name: "graphiql-plugin-explorer.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../static/graphiql/graphiql-plugin-explorer.css"),
    },
    Asset {
        name: "react.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../static/graphiql/react.production.min.js"),
    },
    Asset {
        name: "react-dom.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../static/graphiql/react-dom.production.min.js"),
    },
];

const PAGE: &str = include_str!("../static/graphiql/index.html");

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/graphiql").route(crate::http::get_or_head().to(page)))
        .service(web::resource("/graphiql/").route(crate::http::get_or_head().to(page)))
        .service(web::resource("/graphiql/assets/{name}").route(crate::http::get_or_head().to(asset)));
}

async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(PAGE)
}

async fn asset(name: web::Path<String>) -> HttpResponse {
    match ASSETS.iter().find(|a| a.name == name.as_str()) {
        Some(a) => HttpResponse::Ok()
            .content_type(a.content_type)
            // The files are fixed for a given build of the server.
            .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
            .body(a.bytes),
        None => HttpResponse::NotFound().content_type("text/plain; charset=utf-8").body("no such GraphiQL asset"),
    }
}
