//! The benchmark's baseline: a bare actix-web endpoint that answers every request with the
//! same JSON bytes (read from a file at start). Built for `bench/http.sh`, not part of the
//! product. Usage: `bare_json ADDR FILE`.

use actix_web::{web, App, HttpResponse, HttpServer};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (addr, file) = match args.as_slice() {
        [_, addr, file] => (addr.clone(), file.clone()),
        _ => {
            eprintln!("usage: bare_json ADDR FILE");
            std::process::exit(2);
        }
    };
    let body = web::Bytes::from(std::fs::read(&file)?);
    HttpServer::new(move || {
        let body = body.clone();
        // Reads the request body as the GraphQL server does: an unread body costs actix a slow
        // drain per keep-alive request and would make the baseline unfairly slow.
        App::new().default_service(web::to(move |_request: web::Bytes| {
            let body = body.clone();
            async move { HttpResponse::Ok().content_type("application/json").body(body) }
        }))
    })
    .workers(1)
    .bind(addr)?
    .run()
    .await
}
