//! GraphiQL, served from the binary: the page and the vendored GraphiQL, GraphiQL Explorer
//! plugin and React builds (`static/graphiql/`, from npm), so that it works with no internet.

use actix_web::{web, HttpResponse};

use crate::assets::{Asset, Cache};

const ASSETS: &[Asset] = &[
    Asset {
        name: "init.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../static/graphiql/init.js"),
        cache: Cache::Day,
    },
    Asset {
        name: "graphiql.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../static/graphiql/graphiql.min.js"),
        cache: Cache::Day,
    },
    Asset {
        name: "graphiql.min.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../static/graphiql/graphiql.min.css"),
        cache: Cache::Day,
    },
    Asset {
        name: "graphiql-plugin-explorer.umd.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../static/graphiql/graphiql-plugin-explorer.umd.js"),
        cache: Cache::Day,
    },
    Asset {
        name: "graphiql-plugin-explorer.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../static/graphiql/graphiql-plugin-explorer.css"),
        cache: Cache::Day,
    },
    Asset {
        name: "react.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../static/graphiql/react.production.min.js"),
        cache: Cache::Day,
    },
    Asset {
        name: "react-dom.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../static/graphiql/react-dom.production.min.js"),
        cache: Cache::Day,
    },
];

const PAGE: &str = include_str!("../static/graphiql/index.html");

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/graphiql").route(crate::http::get_or_head().to(page)))
        .service(web::resource("/graphiql/").route(crate::http::get_or_head().to(page)))
        .service(web::resource("/graphiql/assets/{name}").route(crate::http::get_or_head().to(asset)));
}

async fn page() -> HttpResponse {
    crate::assets::page(PAGE)
}

async fn asset(name: web::Path<String>) -> HttpResponse {
    crate::assets::serve(ASSETS, &name)
}
