//! The files the self-hosted pages (`/graphiql`, `/explore`, `/documents`) load, compiled into
//! the binary so that the pages need no outside network: one way to serve them, so that their
//! headers do not drift apart from page to page.

use actix_web::http::header;
use actix_web::HttpResponse;

pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
    pub cache: Cache,
}

/// How long a browser may keep an asset.
pub enum Cache {
    /// A page's own script or style, which changes with the server: asked again every time.
    Revalidate,
    /// A vendored library, fixed for a given build: kept a day.
    Day,
}

/// The asset called `name`, or a plain 404.
pub fn serve(assets: &[Asset], name: &str) -> HttpResponse {
    match assets.iter().find(|a| a.name == name) {
        Some(a) => HttpResponse::Ok()
            .content_type(a.content_type)
            .insert_header((
                header::CACHE_CONTROL,
                match a.cache {
                    Cache::Revalidate => "no-cache",
                    Cache::Day => "public, max-age=86400",
                },
            ))
            .body(a.bytes),
        None => HttpResponse::NotFound().content_type("text/plain; charset=utf-8").body("no such asset"),
    }
}

/// A page's HTML, revalidated every time (it names the assets of this build).
pub fn page(html: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(html)
}
