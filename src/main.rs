//! The `policygraph` binary; everything lives in the library (see `cli`).

fn main() -> std::process::ExitCode {
    policygraph::cli::run()
}

// mimalloc: measured faster than the system allocator for many small, short-lived allocations
// of GraphQL execution (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
