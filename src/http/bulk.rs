//! Bulk data over HTTP: `POST /import` loads records into a running server (an admin's), and
//! `/export/graph.jsonl` gives the whole graph as the records an import reads back.
//!
//! An import's body is written to a temporary file as it arrives, then imported from it as the
//! command line imports a file (`import::run`): the importer reads its input several times
//! (checked whole, then written), and a spooled file keeps the server's memory bounded
//! whatever the body's size. One import runs at a time per process; each chunk is committed
//! through the service, so the index, the change feed and subscribers follow it chunk by chunk
//! and edits go on between chunks. Documents must carry their texts inline: a server does not
//! read files named by a request.

use std::io::Write as _;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt as _;
use serde_json::json;

use super::{bad_request, caller, AppState, ResponseType};
use crate::api::error::code;
use crate::auth::Role;
use crate::import::{self, Format, Sink, Source};
use crate::service::{Service, ServiceError};
use crate::store::{Generation, Snapshot, StoreError, WriteBatch};

/// The largest import body: 4 GiB (a 1M-entity graph's JSON Lines are about 1.5 GB).
pub const MAX_IMPORT_BYTES: u64 = 4 << 30;
/// How long an import's body may go without a byte arriving.
const BODY_IDLE: std::time::Duration = std::time::Duration::from_secs(30);

/// The service as an import's sink.
struct ServiceSink(Service);

#[async_trait::async_trait]
impl Sink for ServiceSink {
    async fn read(&self) -> Result<Arc<dyn Snapshot>, StoreError> {
        self.0.store().read().await
    }

    async fn commit(&self, batch: WriteBatch) -> Result<Generation, StoreError> {
        self.0.commit_import(batch).await.map_err(|e| match e {
            ServiceError::Store(e) => e,
            other => StoreError::Backend(other.to_string()),
        })
    }
}

fn refuse(status: StatusCode, code: &str, message: String) -> HttpResponse {
    bad_request(status, ResponseType::Json, code, message)
}

/// `POST /import?format=jsonl|csv|ftm&dryRun=true&skipInvalid=true&chunk=N` with an admin's
/// bearer token; the body is the file. Answers the import's report: 200 when it went through
/// (or a dry run found nothing wrong), 422 when records were refused (the report lists them).
pub async fn import(req: HttpRequest, mut payload: web::Payload, state: web::Data<AppState>) -> HttpResponse {
    let who = match caller(&req, &state, ResponseType::Json).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return HttpResponse::Unauthorized()
                .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
                .json(json!({ "errors": [{ "message": "an import needs an admin's bearer token", "extensions": { "code": code::UNAUTHENTICATED } }] }))
        }
        Err(r) => return *r,
    };
    if who.role < Role::Admin {
        return refuse(
            StatusCode::FORBIDDEN,
            code::FORBIDDEN,
            format!("`{}` is not an admin; imports need one", who.name),
        );
    }
    let q = match web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string()) {
        Ok(q) => q.into_inner(),
        Err(e) => return refuse(StatusCode::BAD_REQUEST, code::BAD_REQUEST, format!("bad query string: {e}")),
    };
    let flag = |name: &str| -> Result<bool, Box<HttpResponse>> {
        match q.get(name).map(String::as_str) {
            None | Some("false") => Ok(false),
            Some("true" | "") => Ok(true),
            Some(v) => Err(Box::new(refuse(
                StatusCode::BAD_REQUEST,
                code::BAD_REQUEST,
                format!("`{name}` must be true or false (got `{}`)", crate::domain::excerpt(v)),
            ))),
        }
    };
    let format = match q.get("format").map(String::as_str) {
        None | Some("jsonl") => Format::Jsonl,
        Some("csv") => Format::Csv,
        Some("ftm") => Format::Ftm,
        Some(other) => {
            let message = format!("no import format `{}`; use jsonl, csv or ftm", crate::domain::excerpt(other));
            return refuse(StatusCode::BAD_REQUEST, code::BAD_REQUEST, message);
        }
    };
    let (dry_run, skip_invalid) = match (flag("dryRun"), flag("skipInvalid")) {
        (Ok(d), Ok(s)) => (d, s),
        (Err(r), _) | (_, Err(r)) => return *r,
    };
    let chunk = match q.get("chunk").map(|v| v.parse::<usize>()) {
        None => 1000,
        Some(Ok(n)) if (1..=100_000).contains(&n) => n,
        Some(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                code::BAD_REQUEST,
                "`chunk` must be a number from 1 to 100000".into(),
            )
        }
    };
    let Ok(_turn) = state.import_gate.clone().try_acquire_owned() else {
        return refuse(
            StatusCode::CONFLICT,
            code::CONFLICT,
            "an import is already running on this server; try again when it ends".into(),
        );
    };

    // The body, spooled to a file as it arrives.
    let name = q
        .get("name")
        .filter(|n| !n.is_empty() && n.len() <= 100)
        .cloned()
        .unwrap_or_else(|| format!("http-{}", who.name));
    let spool = match tempfile::Builder::new().prefix("policygraph-import-").tempfile() {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "cannot create an import's spool file");
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, code::INTERNAL, "cannot store the import body".into());
        }
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 20, spool.as_file());
    let mut size = 0u64;
    loop {
        let next = match tokio::time::timeout(BODY_IDLE, payload.next()).await {
            Ok(next) => next,
            Err(_) => {
                let message = format!("the import body stalled: nothing arrived for {} s", BODY_IDLE.as_secs());
                return refuse(StatusCode::REQUEST_TIMEOUT, code::BODY_TIMEOUT, message);
            }
        };
        let Some(chunk) = next else { break };
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                return refuse(StatusCode::BAD_REQUEST, code::BAD_REQUEST, format!("cannot read the request body: {e}"))
            }
        };
        size += chunk.len() as u64;
        if size > MAX_IMPORT_BYTES {
            let message = format!("the import body is larger than the limit of {MAX_IMPORT_BYTES} bytes");
            return refuse(StatusCode::PAYLOAD_TOO_LARGE, code::PAYLOAD_TOO_LARGE, message);
        }
        if let Err(e) = out.write_all(&chunk) {
            tracing::error!(error = %e, "cannot write an import's spool file");
            return refuse(StatusCode::INSUFFICIENT_STORAGE, code::INTERNAL, "cannot store the import body".into());
        }
    }
    if let Err(e) = out.flush() {
        tracing::error!(error = %e, "cannot write an import's spool file");
        return refuse(StatusCode::INSUFFICIENT_STORAGE, code::INTERNAL, "cannot store the import body".into());
    }
    drop(out);

    let service = state.service.clone();
    let options = import::Options {
        dry_run,
        skip_invalid,
        chunk,
        texts: service.document_texts(),
        // A request names no file of this machine.
        read_files: false,
    };
    let rt = tokio::runtime::Handle::current();
    let spool_path = spool.path().to_path_buf();
    let ran = tokio::task::spawn_blocking(move || {
        let sources = [Source { path: spool_path, format, label: Some(name) }];
        let stop = AtomicU64::new(0);
        let sink = ServiceSink(service);
        import::run(&sources, &options, &sink, rt, &import::Quiet, &stop)
    })
    .await;
    drop(spool);
    match ran {
        Ok(Ok(report)) => {
            let status =
                if report.invalid > 0 && !report.written { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
            tracing::info!(actor = %who.name, summary = %report.summary(), "import over HTTP");
            HttpResponse::build(status).json(report)
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "an import over HTTP failed");
            let message = format!(
                "the import stopped: {e}; the chunks committed before stay, whole; run it again to complete it"
            );
            refuse(StatusCode::INTERNAL_SERVER_ERROR, code::INTERNAL, message)
        }
        Err(e) => {
            tracing::error!(error = %e, "an import over HTTP panicked");
            refuse(StatusCode::INTERNAL_SERVER_ERROR, code::INTERNAL, "the import failed".into())
        }
    }
}

/// `/export/graph.jsonl` for the whole graph: written at one generation into a temporary file
/// under the index's read guard (a 1M graph takes seconds, during which edits wait), then sent
/// from the file, so that a slow client holds nothing.
pub async fn export_jsonl(state: &AppState) -> HttpResponse {
    let g = state.service.read().await;
    let texts = state.service.document_texts();
    let written = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
        let file = tempfile::tempfile()?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, &file);
        let relations = g.all_relations().map(|r| std::sync::Arc::unwrap_or_clone(r.get()));
        crate::export::jsonl(g.entities(None, None).map(|e| &**e), relations, &texts, &mut out)?;
        out.flush()?;
        drop(out);
        drop(g);
        let mut file = file;
        std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(0))?;
        Ok(file)
    })
    .await;
    let file = match written {
        Ok(Ok(f)) => f,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot write an export");
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, code::INTERNAL, "cannot write the export".into());
        }
        Err(_) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, code::INTERNAL, "the export failed".into()),
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let file = tokio::fs::File::from_std(file);
    let body = tokio_util_stream(file);
    HttpResponse::Ok()
        .content_type(crate::export::Format::Jsonl.content_type())
        .insert_header((header::CONTENT_DISPOSITION, "inline; filename=\"policygraph.jsonl\""))
        .insert_header((header::CONTENT_LENGTH, len))
        .streaming(body)
}

/// A file's bytes as a body stream, 256 KiB at a time.
fn tokio_util_stream(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = Result<actix_web::web::Bytes, std::io::Error>> {
    use tokio::io::AsyncReadExt as _;
    futures_util::stream::unfold(Some(file), |state| async move {
        let mut file = state?;
        let mut buf = vec![0u8; 256 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(actix_web::web::Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}
