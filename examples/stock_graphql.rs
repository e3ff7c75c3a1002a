//! The benchmark's "stock" comparison: policygraph's own schema and store behind
//! async-graphql-actix-web's stock extractor and `Schema::execute`, with none of the server's
//! hot-path work (no document or answer cache, the stock parser path). Built for
//! `bench/http.sh`, not part of the product. Usage: `stock_graphql ADDR STORE_DIR`.

use actix_web::{web, App, HttpServer};
use async_graphql_actix_web::{GraphQLRequest, GraphQLResponse};
use policygraph::api::{build_schema, PolicySchema};
use policygraph::service::Service;

async fn graphql(schema: web::Data<PolicySchema>, service: web::Data<Service>, req: GraphQLRequest) -> GraphQLResponse {
    let view = service.read().await;
    schema.execute(req.into_inner().data(view)).await.into()
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr, store] = args.as_slice() else {
        eprintln!("usage: stock_graphql ADDR STORE_DIR");
        std::process::exit(2);
    };
    let service = Service::open(std::path::Path::new(store)).await.map_err(std::io::Error::other)?;
    let schema = build_schema(Some(service.clone()));
    HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(schema.clone()))
            .app_data(web::Data::new(service.clone()))
            .route("/graphql", web::post().to(graphql))
    })
    .workers(1)
    .bind(addr.as_str())?
    .run()
    .await
}
