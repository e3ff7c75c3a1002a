//! The `policygraph` binary; everything lives in the library (see `cli`).

fn main() -> std::process::ExitCode {
    policygraph::cli::run()
}
