//! The GraphQL API: the schema, its types and resolvers, limits and error codes.
//!
//! Resolvers read the per-request graph view ([`crate::service::GraphView`]) placed in the
//! request data by the HTTP layer; this layer never touches the store.

pub mod error;
pub mod explore;
pub mod facts;
pub mod filters;
pub mod limits;
pub mod moved;
pub mod mutation;
pub mod passages;
pub mod query;
pub mod ratelimit;
pub mod relations;
pub mod subscription;
pub mod types;
pub mod work;

use async_graphql::Schema;

pub use limits::ExecutionStarted;
pub use mutation::MutationRoot;
pub use query::QueryRoot;
pub use subscription::SubscriptionRoot;

use crate::service::Service;

/// The query root: look-ups and lists, and the exploring of connections.
#[derive(async_graphql::MergedObject, Default)]
#[graphql(name = "Query")]
pub struct Query(QueryRoot, explore::ExploreQuery, facts::FactsQuery, ratelimit::RateLimitQuery);

pub type PolicySchema = Schema<Query, MutationRoot, SubscriptionRoot>;

/// Builds the schema with its limits over `service` (none: for exporting the SDL). Depth and
/// cost limits are sized so that GraphiQL's introspection query passes (a test holds them to
/// that).
pub fn build_schema(service: Option<Service>) -> PolicySchema {
    let mut builder = Schema::build(Query::default(), MutationRoot, SubscriptionRoot);
    if let Some(s) = service {
        builder = builder.data(s).data(work::HeavyWork::per_core());
    }
    builder
        .limit_depth(limits::MAX_DEPTH)
        .extension(limits::Limits::new(limits::MAX_COST))
        // A subgraph for Apollo Federation: `_service { sdl }` and `_entities` by global ID.
        .enable_federation()
        .finish()
}

/// The SDL the server serves; `schema/schema.graphql` holds a copy that a test keeps true.
pub fn sdl() -> String {
    build_schema(None).sdl()
}
