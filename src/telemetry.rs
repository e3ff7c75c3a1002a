//! Logs and metrics: the `tracing` subscriber and the Prometheus recorder.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing::Level;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Log format on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line, for log collectors.
    Json,
    /// Human-readable lines.
    Text,
}

/// Installs the global log subscriber. `RUST_LOG` overrides the default filter (`info`).
pub fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour only for a person at a terminal: styling every line costs measurable time under load.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(ansi);
    // A formatter that skips the dispatcher's errors rather than a per-layer filter: with a
    // per-layer filter the registry keeps filter state for every span, a cost on every request.
    let fmt = match format {
        LogFormat::Json => fmt.json().flatten_event(true).map_event_format(SkipDispatcherErrors).boxed(),
        LogFormat::Text => fmt.map_event_format(SkipDispatcherErrors).boxed(),
    };
    // A second call (tests start several servers in one process) keeps the first subscriber.
    let _ = tracing_subscriber::registry().with(filter).with(fmt).with(ReLevelDispatcherErrors).try_init();
}

/// Formats every event but the dispatcher's errors (see [`is_dispatcher_error`]).
struct SkipDispatcherErrors<F>(F);

impl<S, N, F> FormatEvent<S, N> for SkipDispatcherErrors<F>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        if is_dispatcher_error(event.metadata()) {
            return Ok(());
        }
        self.0.format_event(ctx, writer, event)
    }
}

/// actix-http's connection dispatcher logs at ERROR what a client did wrong (a request that is
/// not HTTP, a header it cannot parse, a connection broken off mid-request): anyone on the
/// network could fill the error log. Those events are kept out of the formatted log and said
/// again by [`ReLevelDispatcherErrors`] at the level they deserve.
fn is_dispatcher_error(meta: &tracing::Metadata<'_>) -> bool {
    *meta.level() == Level::ERROR && meta.target().starts_with("actix_http::h1::dispatcher")
}

/// Re-logs the dispatcher's errors: its `stream error: …` lines (a malformed request, a peer
/// that went away) at DEBUG and counted in `http_client_stream_errors_total`, anything else
/// (a fault of the server's own) still at ERROR.
struct ReLevelDispatcherErrors;

impl<S: tracing::Subscriber> Layer<S> for ReLevelDispatcherErrors {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if !is_dispatcher_error(event.metadata()) {
            return;
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        let detail = message.0;
        if detail.starts_with("stream error") {
            metrics::counter!("http_client_stream_errors_total").increment(1);
            tracing::debug!(target: "policygraph::http", %detail, "a client sent a malformed request or broke off its connection");
        } else {
            tracing::error!(target: "policygraph::http", %detail, "HTTP connection error");
        }
    }
}

struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

/// The process-wide Prometheus recorder; installed on first use.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("duration_seconds".into()),
                    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5],
                )
                .expect("static bucket list is valid")
                .build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder is installed, in which case ours just stays unused.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}
