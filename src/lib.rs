//! policygraph: a GraphQL API over a cited knowledge graph of international migration
//! governance. See `ARCHITECTURE.md` for the map of modules.

pub mod api;
pub mod assets;
pub mod auth;
pub mod cache;
pub mod cli;
pub mod compiled;
pub mod coverage;
pub mod deadline;
pub mod domain;
pub mod edit;
pub mod executor;
pub mod explore;
pub mod export;
pub mod facts;
pub mod graph;
pub mod graphiql;
pub mod http;
pub mod import;
pub mod reader;
pub mod seed;
pub mod service;
pub mod store;
pub mod synthetic;
pub mod telemetry;
pub mod validate;
pub mod ws;
