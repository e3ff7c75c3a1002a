//! Every integration test, as one test binary: one link instead of one per file (each was about
//! 100 MB of debug build, and together they ran a CI disk out). Each file is a module named as
//! before, so `cargo nextest run -E 'test(/^limits::/)'` or `cargo test -- limits::` picks one.

mod common;

mod apollo;
mod batching;
mod browser_cors;
mod browser_explore;
mod browser_graphiql;
mod browser_reader;
mod cache;
mod compiled;
mod cors;
mod coverage;
mod etcd_server;
mod explore;
mod exports;
mod facts;
mod filters;
mod hardening;
mod hostile;
mod http_api;
mod http_spec;
mod import;
mod input_bounds;
mod journalist;
mod kill;
mod limits;
mod moved_ids;
mod passages;
mod rate_limits;
mod relation_filters;
mod replicas;
mod schema_file;
mod snapshot;
mod store_and_seed;
mod store_conformance;
mod subscriptions;
mod writes;
mod ws_protocol;
