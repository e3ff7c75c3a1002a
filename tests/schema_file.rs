//! `schema/schema.graphql` must be exactly what the server serves.

use crate::common;

#[test]
fn checked_in_schema_matches_the_served_schema() {
    let path = common::repo_path("schema/schema.graphql");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    let served = policygraph::api::sdl();
    assert!(
        on_disk == served,
        "schema/schema.graphql is out of date; run `cargo run -- export-schema` and commit the result"
    );
}
