//! The command line: `serve` (the default), `seed`, `check` and `export-schema`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use crate::http::{self, HttpConfig};
use crate::seed;
use crate::service::{Options, Service};
use crate::telemetry::{self, LogFormat};

#[derive(Parser, Debug)]
#[command(
    name = "policygraph",
    version,
    about = "A GraphQL API over a cited knowledge graph of migration governance",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, env = "POLICYGRAPH_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Option<Command>,
    /// With no command, `policygraph` serves, taking `serve`'s options.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the GraphQL API (what a bare `policygraph` does).
    Serve(ServeArgs),
    /// Load the seed directory into the store (idempotent: unchanged records are not rewritten).
    Seed(SeedArgs),
    /// Validate the seed directory and report every problem with its file, record and field.
    Check(CheckArgs),
    /// Write the SDL the server serves.
    ExportSchema(ExportArgs),
    /// Export the graph (or a neighbourhood) as GraphML, GEXF, Cytoscape.js JSON or the JSON
    /// Lines that `import` reads.
    Export(ExportGraphArgs),
    /// Import records from JSON Lines, CSV or FollowTheMoney files (see docs/import.md): every
    /// record checked first, then written in chunks; any refused record writes nothing unless
    /// --skip-invalid. Exit status 1 when a record was refused.
    Import(ImportArgs),
    /// Write a synthetic graph (for benchmarks) into an empty store: kinds and degrees like the
    /// curated graph, deterministic for a seed.
    GenSynthetic(GenArgs),
    /// Manage API tokens (the server must be stopped: the store is opened by one process at a time).
    Token(TokenArgs),
}

#[derive(Args, Debug)]
pub struct ExportGraphArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Output format.
    #[arg(long, value_enum)]
    pub format: crate::export::Format,
    /// Only the neighbourhood of this entity (slug).
    #[arg(long)]
    pub slug: Option<String>,
    /// Neighbourhood depth (with --slug).
    #[arg(long, default_value_t = 1)]
    pub depth: usize,
    /// Neighbourhood size cap (with --slug).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Include documents' `mentions` relations.
    #[arg(long)]
    pub include_provenance: bool,
    /// Output file (`-` for stdout).
    #[arg(long, default_value = "-")]
    pub out: PathBuf,
    /// With `--format jsonl`, documents carry their texts inline: the seed's are read from here.
    #[command(flatten)]
    pub seed: SeedDirArg,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Quotes may cite the seed's documents too: their texts are read from here.
    #[command(flatten)]
    pub seed: SeedDirArg,
    /// The files' format; without it, `.jsonl`/`.ndjson` are JSON Lines and `.csv` is CSV
    /// (FollowTheMoney must be named: `--format ftm`).
    #[arg(long, value_enum)]
    pub format: Option<crate::import::Format>,
    /// Check every record and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write the good records even if some are refused (they are listed).
    #[arg(long)]
    pub skip_invalid: bool,
    /// Megabytes of the store's page cache (sled) while importing.
    #[arg(long, env = "POLICYGRAPH_STORE_CACHE_MB", default_value_t = crate::store::sled::DEFAULT_CACHE_MB)]
    pub store_cache_mb: u64,
    /// Records per commit: each is one transaction with its audit entries.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub chunk: u32,
    /// The files to import, read in this order.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct GenArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Number of entities.
    #[arg(long)]
    pub entities: usize,
    /// Number of relations (5 per entity is typical).
    #[arg(long)]
    pub relations: usize,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write the graph to this file as the JSON Lines `import` reads (documents carrying texts
    /// made of the quotes that cite them, entities dated), instead of into the store: the
    /// input of the import benchmark.
    #[arg(long)]
    pub jsonl: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct TokenArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(subcommand)]
    pub command: TokenCommand,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a token; its secret is printed once, as the last line.
    Create {
        /// A name for the token (shown in the audit trail as the author of changes).
        #[arg(long)]
        name: String,
        /// What the token may do.
        #[arg(long, value_enum)]
        role: crate::auth::Role,
    },
    /// List tokens (names, roles, creation times; never secrets).
    List,
    /// Revoke a token by name.
    Revoke {
        /// The token's name.
        name: String,
    },
}

#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// Store directory (a sled database).
    #[arg(long, env = "POLICYGRAPH_DATA", default_value = "./data", global = true)]
    pub data: PathBuf,
    /// The store: a directory (sled), or an etcd cluster as `etcd://host:port,host:port,...`
    /// (optionally ending in `/prefix` for its keys). Defaults to `--data`.
    #[arg(long, env = "POLICYGRAPH_STORE", global = true)]
    pub store: Option<String>,
}

impl DataArgs {
    /// Where the store is: `--store` when given, else the `--data` directory.
    pub fn location(&self) -> anyhow::Result<crate::store::Location> {
        match &self.store {
            Some(spec) => Ok(crate::store::Location::parse(spec)?),
            None => Ok(crate::store::Location::Dir(self.data.clone())),
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct SeedDirArg {
    /// Seed directory.
    #[arg(long = "seed-dir", env = "POLICYGRAPH_SEED_DIR", default_value = "seed")]
    pub seed_dir: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "POLICYGRAPH_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub seed: SeedDirArg,
    /// HTTP worker threads (0: one per core).
    #[arg(long, env = "POLICYGRAPH_WORKERS", default_value_t = 0)]
    pub workers: usize,
    /// Require a bearer token (any role) for reads too; by default reads are public.
    #[arg(long, env = "POLICYGRAPH_PRIVATE_READS")]
    pub private_reads: bool,
    /// Megabytes of the store's page cache (sled): serves writes and history; reads come from
    /// the in-memory graph.
    #[arg(long, env = "POLICYGRAPH_STORE_CACHE_MB", default_value_t = crate::store::sled::DEFAULT_CACHE_MB)]
    pub store_cache_mb: u64,
    /// Neither start from the index snapshot nor write one at shutdown: every start reads the
    /// whole store (slower at a million entities; the snapshot is a file beside the store).
    #[arg(long, env = "POLICYGRAPH_NO_INDEX_SNAPSHOT")]
    pub no_index_snapshot: bool,
    /// Answer the queries it covers on the compiled read path (the index walked and the JSON
    /// written directly, the same bytes as async-graphql's); `false` runs every query through
    /// async-graphql.
    #[arg(long, env = "POLICYGRAPH_COMPILED_READS", default_value_t = true, action = clap::ArgAction::Set)]
    pub compiled_reads: bool,
    /// Megabytes of serialized answers to cache (0 turns the answer cache off).
    #[arg(long, env = "POLICYGRAPH_ANSWER_CACHE_MB", default_value_t = 64)]
    pub answer_cache_mb: usize,
    /// Seconds a client may keep a GET answer before revalidating it with its ETag.
    #[arg(long, env = "POLICYGRAPH_HTTP_MAX_AGE", default_value_t = 0)]
    pub http_max_age: u32,
    /// Milliseconds a query may run before it is stopped with `REQUEST_TIMEOUT`.
    #[arg(long, env = "POLICYGRAPH_REQUEST_TIMEOUT_MS", default_value_t = crate::http::DEFAULT_REQUEST_TIMEOUT.as_millis() as u64, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_ms: u64,
    /// Seconds a request body may take to arrive whole (408 past that).
    #[arg(long, env = "POLICYGRAPH_BODY_TIMEOUT_SECS", default_value_t = crate::http::DEFAULT_BODY_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    pub body_timeout_secs: u64,
    /// Seconds a websocket may stay open without `connection_init` (then it is closed with 4408).
    #[arg(long, env = "POLICYGRAPH_WS_INIT_TIMEOUT_SECS", default_value_t = crate::ws::DEFAULT_INIT_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    pub ws_init_timeout_secs: u64,
    /// The most operations (subscriptions, queries) one websocket may run at a time.
    #[arg(long, env = "POLICYGRAPH_WS_MAX_SUBSCRIPTIONS_PER_SOCKET", default_value_t = crate::ws::DEFAULT_MAX_SUBSCRIPTIONS_PER_SOCKET as u64, value_parser = clap::value_parser!(u64).range(1..))]
    pub ws_max_subscriptions_per_socket: u64,
    /// The most operations one client (a token, or an address without one) may run at a time over
    /// all its websockets.
    #[arg(long, env = "POLICYGRAPH_WS_MAX_SUBSCRIPTIONS_PER_CLIENT", default_value_t = crate::ws::DEFAULT_MAX_SUBSCRIPTIONS_PER_CLIENT as u64, value_parser = clap::value_parser!(u64).range(1..))]
    pub ws_max_subscriptions_per_client: u64,
    /// Origins (comma-separated, `scheme://host[:port]`) whose pages may send credentials and
    /// `Authorization` across origins; any origin may read without them.
    #[arg(long, env = "POLICYGRAPH_CORS_ORIGINS", default_value = "", hide_default_value = true)]
    pub cors_origins: crate::http::CorsOrigins,
    /// Cost points one client (a token, or an address without one) may spend per window, over
    /// HTTP and websocket together; past them it gets 429 `RATE_LIMITED`. 0 turns the rate
    /// limit off. At most 2,147,483,647: `Query.rateLimit` reports it as a GraphQL `Int`.
    #[arg(long, env = "POLICYGRAPH_RATE_LIMIT_POINTS", default_value_t = crate::http::rate_limit::DEFAULT_POINTS, value_parser = clap::value_parser!(u64).range(0..=i32::MAX as u64))]
    pub rate_limit_points: u64,
    /// Seconds of a client's rate-limit window (its budget is whole again at its end).
    #[arg(long, env = "POLICYGRAPH_RATE_LIMIT_WINDOW_SECS", default_value_t = crate::http::rate_limit::DEFAULT_WINDOW.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    pub rate_limit_window_secs: u64,
    /// The most operations one batched POST (a JSON array) may hold.
    #[arg(long, env = "POLICYGRAPH_MAX_BATCH", default_value_t = crate::http::DEFAULT_MAX_BATCH as u64, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub max_batch: u64,
}

#[derive(Args, Debug)]
pub struct SeedArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub seed: SeedDirArg,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub seed: SeedDirArg,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Where to write the SDL (`-` for stdout).
    #[arg(long, default_value = "schema/schema.graphql")]
    pub out: PathBuf,
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init_logging(cli.log_format);
    let command = cli.command.unwrap_or(Command::Serve(cli.serve));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match command {
            Command::Serve(args) => serve(args).await,
            Command::Seed(args) => seed_command(args).await,
            Command::Check(args) => check(&args.seed.seed_dir),
            Command::ExportSchema(args) => export_schema(&args.out),
            Command::Token(args) => token(args).await,
            Command::Export(args) => export_graph(args).await,
            Command::Import(args) => import_command(args).await,
            Command::GenSynthetic(args) => gen_synthetic(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    // The recorder first: opening the store starts the applier, whose first act may be a
    // rebuild (a snapshot's place compacted away), and a metric recorded before the recorder
    // exists is lost.
    telemetry::metrics_handle();
    let location = args.data.location()?;
    let options = Options {
        cache_mb: args.store_cache_mb,
        index_snapshot: !args.no_index_snapshot,
        // Over etcd, `--data` is this process's own directory: its index snapshot lives there.
        snapshot_dir: Some(args.data.data.clone()),
    };
    let service =
        Service::open_at(&location, &options).await.with_context(|| format!("opening the store at {location}"))?;
    if args.seed.seed_dir.is_dir() {
        // Editors' quotes are checked against these, whether or not this start seeds.
        service.add_document_texts(&seed::load_document_texts(&args.seed.seed_dir)?);
    }
    if service.store().is_empty().await? {
        if args.seed.seed_dir.is_dir() {
            let data = seed::load(&args.seed.seed_dir)?;
            let report = service.seed(&data).await?;
            tracing::info!(%report, dir = %args.seed.seed_dir.display(), "seeded an empty store");
        } else {
            tracing::warn!(dir = %args.seed.seed_dir.display(), "the store is empty and there is no seed directory; serving an empty graph");
        }
    }
    let listener = TcpListener::bind(&args.bind).with_context(|| format!("binding {}", args.bind))?;
    let addr = listener.local_addr()?;
    let server = http::start(
        listener,
        service.clone(),
        &HttpConfig {
            workers: args.workers,
            private_reads: args.private_reads,
            answer_cache_bytes: args.answer_cache_mb * 1024 * 1024,
            max_age: args.http_max_age,
            request_timeout: std::time::Duration::from_millis(args.request_timeout_ms),
            body_timeout: std::time::Duration::from_secs(args.body_timeout_secs),
            ws: crate::ws::WsConfig {
                init_timeout: std::time::Duration::from_secs(args.ws_init_timeout_secs),
                max_subscriptions_per_socket: args.ws_max_subscriptions_per_socket as usize,
                max_subscriptions_per_client: args.ws_max_subscriptions_per_client as usize,
                ..Default::default()
            },
            cors_origins: args.cors_origins.clone(),
            rate_limit: crate::http::RateLimitConfig {
                points: args.rate_limit_points,
                window: std::time::Duration::from_secs(args.rate_limit_window_secs),
            },
            max_batch: args.max_batch as usize,
            compiled_reads: args.compiled_reads,
        },
    )?;
    {
        let g = service.read().await;
        tracing::info!(%addr, entities = g.entity_count(), relations = g.relation_count(), "policygraph listening; GraphiQL at http://{addr}/graphiql");
    }
    // actix-web stops gracefully on SIGINT and SIGTERM; then the store is flushed and the
    // index snapshot written.
    server.await?;
    service.close().await?;
    tracing::info!("stopped; store flushed");
    Ok(ExitCode::SUCCESS)
}

async fn seed_command(args: SeedArgs) -> anyhow::Result<ExitCode> {
    let data = seed::load(&args.seed.seed_dir)?;
    let service = Service::open_at(&args.data.location()?, &Options::default()).await?;
    let report = service.seed(&data).await?;
    service.close().await?;
    println!("{report}");
    Ok(ExitCode::SUCCESS)
}

fn check(dir: &Path) -> anyhow::Result<ExitCode> {
    match seed::load(dir) {
        Ok(data) => {
            // Valid records are not enough: the curation must also have read every sentence.
            let coverage = crate::coverage::check(dir, &data);
            println!("{coverage}");
            if coverage.fails() {
                let statements = coverage.uncited.iter().filter(|u| u.statement).count();
                println!(
                    "{}: {} problem(s), {statements} uncited statement(s)",
                    dir.display(),
                    coverage.problems.len()
                );
                return Ok(ExitCode::FAILURE);
            }
            println!("{}: ok; {}", dir.display(), seed::summary(&data));
            Ok(ExitCode::SUCCESS)
        }
        Err(seed::SeedError::Invalid(problems)) => {
            for p in &problems {
                println!("{p}");
            }
            println!("{}: {} problem(s)", dir.display(), problems.len());
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.into()),
    }
}

async fn export_graph(args: ExportGraphArgs) -> anyhow::Result<ExitCode> {
    if args.format == crate::export::Format::Jsonl && args.slug.is_none() {
        return export_jsonl(args).await;
    }
    let location = args.data.location()?;
    let service = Service::open_at(&location, &Options::default())
        .await
        .with_context(|| format!("opening the store at {location} (is the server running?)"))?;
    let g = service.read().await;
    let sel = crate::export::Selection {
        slug: args.slug,
        depth: args.depth.clamp(1, 3),
        limit: args.limit.max(1),
        include_provenance: args.include_provenance,
    };
    let (entities, relations) = crate::export::select(&g, &sel)?;
    // The service read the store's texts when it started; the seed directory's join them
    // under the service's own rule (the store's win).
    if args.seed.seed_dir.is_dir() {
        service.add_document_texts(&seed::load_document_texts(&args.seed.seed_dir)?);
    }
    let body = crate::export::render(args.format, &g, &entities, &relations, &service.document_texts());
    if args.out == Path::new("-") {
        print!("{body}");
    } else {
        std::fs::write(&args.out, body).with_context(|| format!("writing {}", args.out.display()))?;
        eprintln!("wrote {} ({} entities, {} relations)", args.out.display(), entities.len(), relations.len());
    }
    Ok(ExitCode::SUCCESS)
}

/// The document texts quotes can be found in, for the commands that use the store without a
/// service: the seed directory's and those the store keeps (the store's win for a file in both,
/// as in `Service`: an import wrote them later).
async fn known_texts(store: &dyn crate::store::Store, seed_dir: &Path) -> anyhow::Result<crate::domain::DocumentTexts> {
    let seed = if seed_dir.is_dir() { seed::load_document_texts(seed_dir)? } else { Default::default() };
    let snapshot = store.read().await?;
    let stored = tokio::task::block_in_place(|| snapshot.document_texts())?;
    drop(snapshot);
    Ok(seed.merged(&crate::domain::DocumentTexts::from_texts(stored.into_iter().map(|t| (t.file, t.text)))))
}

/// The whole graph as JSON Lines, streamed from the store (not built in memory: a 1M graph
/// is a couple of gigabytes of JSON).
async fn export_jsonl(args: ExportGraphArgs) -> anyhow::Result<ExitCode> {
    use std::io::Write as _;
    let store = open_store(&args.data).await?;
    let texts = known_texts(store.as_ref(), &args.seed.seed_dir).await?;
    let snapshot = store.read().await?;
    let out_path = args.out.clone();
    let (entities, relations) = tokio::task::spawn_blocking(move || -> anyhow::Result<(u64, u64)> {
        let mut out: Box<dyn std::io::Write> = if out_path == Path::new("-") {
            Box::new(std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock()))
        } else {
            let file = std::fs::File::create(&out_path).with_context(|| format!("creating {}", out_path.display()))?;
            Box::new(std::io::BufWriter::with_capacity(1 << 20, file))
        };
        let mut counts = (0, 0);
        let mut failed: Option<std::io::Error> = None;
        for range in snapshot.entity_ranges()? {
            let mut batch = Vec::new();
            snapshot.entities_in(&range, &mut |e| batch.push(e))?;
            let (n, _) = crate::export::jsonl(batch.iter(), std::iter::empty(), &texts, &mut out)?;
            counts.0 += n;
        }
        for range in snapshot.relation_ranges()? {
            snapshot.relations_in(&range, &mut |r| {
                if failed.is_none() {
                    match crate::export::jsonl(std::iter::empty(), std::iter::once(r.to_relation()), &texts, &mut out) {
                        Ok(_) => counts.1 += 1,
                        Err(e) => failed = Some(e),
                    }
                }
            })?;
        }
        if let Some(e) = failed {
            return Err(e.into());
        }
        out.flush()?;
        Ok(counts)
    })
    .await??;
    if args.out != Path::new("-") {
        eprintln!("wrote {} ({entities} entities, {relations} relations)", args.out.display());
    }
    Ok(ExitCode::SUCCESS)
}

async fn import_command(args: ImportArgs) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal as _;
    let mut sources = Vec::new();
    for path in &args.files {
        let format = match args.format {
            Some(f) => f,
            None => match path.extension().and_then(|e| e.to_str()) {
                Some("jsonl" | "ndjson") => crate::import::Format::Jsonl,
                Some("csv") => crate::import::Format::Csv,
                _ => anyhow::bail!(
                    "cannot tell the format of {} from its name; say --format jsonl, csv or ftm",
                    path.display()
                ),
            },
        };
        if !path.is_file() {
            anyhow::bail!("{} is not a file", path.display());
        }
        sources.push(crate::import::Source { path: path.clone(), format, label: None });
    }
    let location = args.data.location()?;
    let store = crate::store::open(&location, &crate::store::OpenOptions { cache_mb: args.store_cache_mb })
        .await
        .with_context(|| format!("opening the store at {location} (is the server running?)"))?;
    let options = crate::import::Options {
        dry_run: args.dry_run,
        skip_invalid: args.skip_invalid,
        chunk: args.chunk as usize,
        texts: known_texts(store.as_ref(), &args.seed.seed_dir).await?,
        read_files: true,
    };
    let stop = Arc::new(std::sync::atomic::AtomicU64::new(0));
    {
        // Ctrl-C stops between records: the chunks already committed stay, whole.
        let stop = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.store(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
    }
    let rt = tokio::runtime::Handle::current();
    let sink = crate::import::StoreSink(store.clone());
    let started = std::time::Instant::now();
    let report = tokio::task::spawn_blocking(move || {
        let progress: Box<dyn crate::import::Progress> = if std::io::stderr().is_terminal() {
            Box::new(crate::import::progress::Bar::new())
        } else {
            Box::new(crate::import::progress::Lines::new())
        };
        crate::import::run(&sources, &options, &sink, rt, progress.as_ref(), &stop)
    })
    .await??;
    store.flush().await?;
    if report.invalid > 0 && !args.skip_invalid {
        eprintln!("{} record(s) refused: nothing was written (--skip-invalid writes the others)", report.invalid);
    }
    println!("{} in {:.1} s", report.summary(), started.elapsed().as_secs_f64());
    Ok(if report.invalid > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// Opens the store named by `--store` or `--data`, for the commands that use it without a service.
async fn open_store(data: &DataArgs) -> anyhow::Result<std::sync::Arc<dyn crate::store::Store>> {
    let location = data.location()?;
    crate::store::open(&location, &crate::store::OpenOptions::default())
        .await
        .with_context(|| format!("opening the store at {location} (is the server running?)"))
}

async fn gen_synthetic(args: GenArgs) -> anyhow::Result<ExitCode> {
    if let Some(path) = &args.jsonl {
        let (mut entities, relations) = crate::synthetic::generate(args.entities, args.relations, args.seed);
        crate::synthetic::decorate(&mut entities, args.seed);
        let mut texts: std::collections::HashMap<String, String> = std::collections::HashMap::new();
        for r in &relations {
            for c in &r.citations {
                let text = texts.entry(c.document.clone()).or_default();
                text.push_str(c.quote.as_deref().unwrap_or_default());
                text.push('\n');
            }
        }
        let files =
            entities.iter().filter_map(|e| Some((e.extra.file.clone()?, texts.remove(&e.id).unwrap_or_default())));
        let texts = crate::domain::DocumentTexts::from_texts(files);
        let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        crate::export::jsonl(entities.iter(), relations.into_iter(), &texts, &mut out)?;
        std::io::Write::flush(&mut out)?;
        eprintln!("wrote {}", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let store = open_store(&args.data).await?;
    if !store.is_empty().await? {
        anyhow::bail!("the store at {} is not empty; synthetic data goes into a new one", store.describe());
    }
    let started = std::time::Instant::now();
    let (entities, relations) = crate::synthetic::generate(args.entities, args.relations, args.seed);
    for chunk in entities.chunks(20_000) {
        store.import(chunk, &[]).await?;
    }
    for chunk in relations.chunks(20_000) {
        store.import(&[], chunk).await?;
    }
    store.flush().await?;
    eprintln!(
        "wrote {} entities and {} relations to {} in {:.1} s",
        entities.len(),
        relations.len(),
        store.describe(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

async fn token(args: TokenArgs) -> anyhow::Result<ExitCode> {
    let store = open_store(&args.data).await?;
    match args.command {
        TokenCommand::Create { name, role } => {
            let secret = crate::auth::create_token(store.as_ref(), &name, role).await?;
            println!("created token `{name}` with role {}; its secret is shown only now:", role.as_str());
            println!("{secret}");
        }
        TokenCommand::List => {
            for t in store.tokens().await? {
                println!("{}\t{}\t{}", t.name, t.role, t.created_at);
            }
        }
        TokenCommand::Revoke { name } => {
            if store.remove_token(&name).await? {
                println!("revoked token `{name}`");
            } else {
                eprintln!("no token named `{name}`");
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn export_schema(out: &Path) -> anyhow::Result<ExitCode> {
    let sdl = crate::api::sdl();
    if out == Path::new("-") {
        print!("{sdl}");
    } else {
        if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(out, &sdl).with_context(|| format!("writing {}", out.display()))?;
        eprintln!("wrote {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}
