//! The HTTP server: GraphQL over HTTP (POST and GET, per the GraphQL-over-HTTP specification),
//! GraphiQL served from the binary, `/healthz` and `/metrics`.
//!
//! The `/graphql` handler is our own rather than async-graphql-actix-web's extractor, because
//! the spec's rules (content negotiation, 4xx before execution with
//! `application/graphql-response+json`, no mutations over GET) need control of the response.
//!
//! The server is assembled from actix's parts rather than with `HttpServer`, for one reason:
//! `HttpServer` answers `Expect: 100-continue` with `100 Continue` before any handler runs, so a
//! client announcing a body past the limit would be invited to send it. Our expect handler
//! refuses it with 413 first.
//!
//! Bounds on what one client can make the server do: the body must arrive whole within
//! [`HttpConfig::body_timeout`]; a query gets [`HttpConfig::request_timeout`] to run (the
//! resolvers that search the graph check it and run off the HTTP workers, see
//! [`crate::api::work`]); an answer carries at most [`MAX_ERRORS`] errors and no message longer
//! than [`MAX_MESSAGE_CHARS`], so a hostile document cannot be echoed back at length.
//!
//! Over time, each client spends a budget of cost points per window ([`rate_limit`]): every
//! answer says what its operation cost (`extensions.cost`) and what is left (`X-RateLimit-*`).
//! A POST may carry a batch, a JSON array of operations, each run like a request of its own.
//!
//! CORS, for apps on other origins, is in [`cors`].

mod bulk;
mod cors;
pub mod rate_limit;
pub use cors::{CorsOriginError, CorsOrigins, EXPOSED_HEADERS, PREFLIGHT_MAX_AGE_SECS};
pub use rate_limit::{Budget, ClientKey, RateLimitConfig, RateLimiter};

use std::collections::HashMap;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse};
use async_graphql::parser::types::{DocumentOperations, OperationType};
use futures_util::StreamExt;
use serde_json::{json, Map, Value};

use crate::api::error::code;
use crate::api::ratelimit::ClientBudget;
use crate::api::work::TimeLimit;
use crate::api::{build_schema, ExecutionStarted, PolicySchema};
use crate::auth::Caller;
use crate::cache::{answer_key, AnswerCache, DocumentCache, PersistedQueries};
use crate::executor::Executor;
use crate::service::Service;
use crate::telemetry;
use std::sync::Arc;

/// The largest request body accepted on `/graphql`.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// The most errors one answer carries; the rest are counted in a last error. A document of
/// 10,000 repeated directives otherwise answers with a megabyte of the same complaint.
pub const MAX_ERRORS: usize = 20;
/// Error messages are cut to this many characters: a message that quotes the input must not
/// hand a client's megabyte back to it (or to the log).
pub const MAX_MESSAGE_CHARS: usize = 300;
/// Headers on every HTML page: scripts only from the server itself (the pages' scripts are
/// files, not inline), no framing, no sniffing. Styles may be inline: GraphiQL sets them.
pub const HTML_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

/// Requests up to this size are prepared on the actix worker (decoded, parsed, looked up in the
/// answer cache: microseconds) and only executed on the executor; bigger ones go to the
/// executor whole, so that no document a client sends can hold a worker for long.
const SMALL_REQUEST_BYTES: usize = 16 * 1024;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const APPLICATION_JSON: &str = "application/json";

/// Everything a handler needs; cheap to clone (one per worker).
#[derive(Clone)]
pub struct AppState {
    pub service: Service,
    pub schema: PolicySchema,
    pub private_reads: bool,
    pub documents: Arc<DocumentCache>,
    pub answers: Arc<AnswerCache>,
    pub persisted: Arc<PersistedQueries>,
    /// `max-age` of GET answers, in seconds.
    pub max_age: u32,
    /// How long a query may run.
    pub request_timeout: Duration,
    /// How long the whole request body may take to arrive.
    pub body_timeout: Duration,
    /// Where parsing, validation, execution and serialization run (not on the actix worker).
    pub executor: Executor,
    /// The websocket settings and the operations each client has running.
    pub ws: Arc<crate::ws::WsLimits>,
    /// Every client's budget of cost points, over HTTP and websocket alike.
    pub limiter: Arc<RateLimiter>,
    /// The most operations one batch may hold.
    pub max_batch: usize,
    /// What the schema holds, for pricing introspection; computed once at the start.
    pub schema_size: crate::api::limits::SchemaSize,
    /// One import at a time (`POST /import`).
    pub import_gate: Arc<tokio::sync::Semaphore>,
    /// See [`HttpConfig::compiled_reads`].
    pub compiled_reads: bool,
}

/// Settings of the HTTP server.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    /// Reads (queries and subscriptions) need a token too.
    pub private_reads: bool,
    /// Bytes of serialized answers to keep (0 turns the answer cache off).
    pub answer_cache_bytes: usize,
    /// How long a client may keep a GET answer before revalidating it (`Cache-Control: max-age`).
    pub max_age: u32,
    /// How long a query may run before it is stopped with `REQUEST_TIMEOUT`. Mutations are not
    /// cut off: a write that has committed cannot be taken back by a timer.
    pub request_timeout: Duration,
    /// How long a request body may take to arrive, from the first byte to the last: a client
    /// trickling a byte at a time would otherwise hold its connection open for ever.
    pub body_timeout: Duration,
    /// Websocket settings: initialisation timeout, pings, limits.
    pub ws: crate::ws::WsConfig,
    /// The origins whose pages may send credentials and `Authorization` (see [`cors`]); any
    /// origin may read.
    pub cors_origins: CorsOrigins,
    /// Each client's budget of cost points per window (see [`rate_limit`]).
    pub rate_limit: RateLimitConfig,
    /// The most operations one batched POST may hold (see [`graphql_post`]).
    pub max_batch: usize,
    /// Answer the queries a plan covers on the compiled read path ([`crate::compiled`]); off,
    /// every query runs through async-graphql (the differential tests compare the two).
    pub compiled_reads: bool,
}

/// The default of [`HttpConfig::max_batch`]: what an app's page sends at once (Apollo's
/// `BatchHttpLink` batches 10 by default), not a way around the per-query cost limit.
pub const DEFAULT_MAX_BATCH: usize = 10;

/// The default of [`HttpConfig::request_timeout`].
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// The default of [`HttpConfig::body_timeout`].
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            workers: 0,
            private_reads: false,
            answer_cache_bytes: 64 * 1024 * 1024,
            max_age: 0,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            ws: crate::ws::WsConfig::default(),
            cors_origins: CorsOrigins::default(),
            rate_limit: RateLimitConfig::default(),
            max_batch: DEFAULT_MAX_BATCH,
            compiled_reads: true,
        }
    }
}

/// Starts the server on an already-bound listener (tests bind port 0 and read the port back).
pub fn start(listener: TcpListener, service: Service, config: &HttpConfig) -> std::io::Result<Server> {
    let schema = build_schema(Some(service.clone()));
    let state = AppState {
        schema_size: crate::api::limits::SchemaSize::from_sdl(&schema.sdl()),
        schema,
        service,
        private_reads: config.private_reads,
        documents: Arc::new(DocumentCache::new(1024)),
        answers: Arc::new(AnswerCache::new(config.answer_cache_bytes)),
        persisted: Arc::new(PersistedQueries::new(10_000)),
        max_age: config.max_age,
        request_timeout: config.request_timeout,
        body_timeout: config.body_timeout,
        executor: Executor::new(0)?,
        ws: Arc::new(crate::ws::WsLimits::new(config.ws.clone())),
        limiter: Arc::new(RateLimiter::new(config.rate_limit)),
        max_batch: config.max_batch.max(1),
        import_gate: Arc::new(tokio::sync::Semaphore::new(1)),
        compiled_reads: config.compiled_reads,
    };
    // Install the recorder before the first request so that every metric is captured.
    telemetry::metrics_handle();
    let cors_origins = config.cors_origins.clone();
    let app = move || {
        let cors_origins = cors_origins.clone();
        App::new()
            .app_data(web::Data::new(state.clone()))
            // Innermost, so that preflights are counted and carry request IDs like any answer,
            // and every answer of the routes gets the headers, errors included.
            .wrap_fn(move |req, srv| {
                use actix_web::dev::Service as _;
                let applies = cors::applies(req.path(), req.headers());
                let origin = req.headers().get(header::ORIGIN).cloned();
                let preflight =
                    if applies { cors::preflight(&cors_origins, req.method(), req.headers()) } else { None };
                // A handler's error is already an answer by here (actix makes it one), so
                // refusals get the headers too.
                let next = match preflight {
                    Some(answer) => Err(req.into_response(answer)),
                    None => Ok(srv.call(req)),
                };
                let cors_origins = cors_origins.clone();
                async move {
                    let mut res = match next {
                        Err(answer) => return Ok(answer),
                        Ok(fut) => fut.await?.map_into_boxed_body(),
                    };
                    if applies {
                        cors::add_headers(&cors_origins, origin.as_ref(), res.headers_mut());
                    }
                    Ok(res)
                }
            })
            .wrap_fn(|req, srv| {
                use actix_web::dev::Service as _;
                let started = Instant::now();
                let path = route_label(req.path());
                let fut = srv.call(req);
                async move {
                    let res = fut.await;
                    record_request(path, &res, started);
                    res
                }
            })
            .wrap_fn(|req, srv| {
                use actix_web::dev::Service as _;
                use actix_web::HttpMessage as _;
                let request_id = req.extensions().get::<tracing_actix_web::RequestId>().map(|id| id.to_string());
                let fut = srv.call(req);
                async move {
                    let mut res = fut.await?;
                    if let Some(id) = request_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
                        res.headers_mut().insert(header::HeaderName::from_static("x-request-id"), id);
                    }
                    add_security_headers(res.headers_mut());
                    Ok(res)
                }
            })
            .wrap(tracing_actix_web::TracingLogger::<RequestSpan>::new())
            .configure(routes)
    };
    let addr = listener.local_addr()?;
    let mut builder = actix_server::Server::build().shutdown_timeout(10);
    if config.workers > 0 {
        builder = builder.workers(config.workers);
    }
    let server = builder
        .listen("policygraph", listener, move || {
            use actix_service::{IntoServiceFactory as _, ServiceFactoryExt as _};
            let app = app().into_factory().map_err(|e| e.error_response());
            actix_http::HttpService::build()
                .client_request_timeout(Duration::from_secs(5))
                .client_disconnect_timeout(Duration::from_secs(1))
                .local_addr(addr)
                .expect(actix_service::fn_service(refuse_large_bodies))
                // The app's configuration: this server's address; URLs are never built from it.
                .finish(actix_service::map_config(app, move |_| actix_web::dev::AppConfig::default()))
                .tcp()
        })?
        .run();
    Ok(server)
}

/// The `Expect: 100-continue` handler: a body announced past [`MAX_BODY_BYTES`] is refused
/// with 413 before the client is told to send it.
async fn refuse_large_bodies(req: actix_http::Request) -> Result<actix_http::Request, actix_web::Error> {
    use actix_http::HttpMessage as _;
    let length: Option<u64> =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    // An import's body is spooled to a file, not held: its own limit.
    let limit = if req.path() == "/import" { bulk::MAX_IMPORT_BYTES } else { MAX_BODY_BYTES as u64 };
    match length {
        Some(n) if n > limit => Err(actix_web::error::InternalError::from_response(
            "body too large",
            HttpResponse::PayloadTooLarge().content_type(APPLICATION_JSON).json(json!({ "errors": [{
                "message": format!("the request body ({n} bytes) is larger than the limit of {limit} bytes"),
                "extensions": { "code": code::PAYLOAD_TOO_LARGE }
            }] })),
        )
        .into()),
        _ => Ok(req),
    }
}

/// `nosniff` on everything; on HTML pages also the CSP, no framing and no referrer.
fn add_security_headers(headers: &mut header::HeaderMap) {
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    let html =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/html"));
    if html {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(HTML_CSP));
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    }
}

/// A route for GET that also answers HEAD (the same headers, no body: actix leaves the body
/// out of an answer to HEAD).
pub fn get_or_head() -> actix_web::Route {
    web::route().guard(actix_web::guard::Any(actix_web::guard::Get()).or(actix_web::guard::Head()))
}

/// The span every request runs in: what a log line written during a request needs to be traced
/// back to it (the method, the route, the request ID that the response also carries). The log
/// formatter renders a span's fields when it opens, whether or not anything is logged in it:
/// tracing-actix-web's default span has a dozen, and rendering them took a sixth of the time of
/// an answer from the cache.
struct RequestSpan;

impl tracing_actix_web::RootSpanBuilder for RequestSpan {
    fn on_request_start(req: &ServiceRequest) -> tracing::Span {
        let request_id = actix_web::HttpMessage::extensions(req).get::<tracing_actix_web::RequestId>().copied();
        tracing::info_span!(
            "request",
            method = %req.method(),
            route = route_label(req.path()),
            request_id = request_id.map(tracing::field::display),
        )
    }

    // Nothing to add at the end: no log line is written after the response.
    fn on_request_end<B: MessageBody>(_: tracing::Span, _: &Result<ServiceResponse<B>, actix_web::Error>) {}
}

/// The routes, also used by tests that build the app in-process.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/graphql")
            .route(web::post().to(graphql_post))
            .route(web::get().guard(actix_web::guard::Header("upgrade", "websocket")).to(graphql_ws))
            .route(get_or_head().to(graphql_get))
            .route(web::route().to(method_not_allowed)),
    )
    .service(web::resource("/healthz").route(get_or_head().to(healthz)))
    .service(web::resource("/metrics").route(get_or_head().to(metrics)))
    .service(web::resource("/export/{file}").route(get_or_head().to(export)))
    .service(web::resource("/import").route(web::post().to(bulk::import)).route(web::route().to(method_not_allowed)))
    .configure(crate::graphiql::routes)
    .configure(crate::explore::routes)
    .configure(crate::reader::routes);
}

fn route_label(path: &str) -> &'static str {
    match path {
        p if p.starts_with("/export/") => "/export",
        "/import" => "/import",
        p if p.starts_with("/explore") => "/explore",
        p if p.starts_with("/documents") => "/documents",
        "/graphql" => "/graphql",
        "/healthz" => "/healthz",
        "/metrics" => "/metrics",
        p if p.starts_with("/graphiql") => "/graphiql",
        _ => "other",
    }
}

fn record_request<B: MessageBody>(
    path: &'static str,
    res: &Result<ServiceResponse<B>, actix_web::Error>,
    started: Instant,
) {
    let status = match res {
        Ok(r) => r.status().as_u16(),
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    metrics::counter!("http_requests_total", "path" => path, "status" => status.to_string()).increment(1);
    metrics::histogram!("http_request_duration_seconds", "path" => path).record(started.elapsed().as_secs_f64());
}

/// Never waits for the index's lock (a writer queued behind a long read must not make the
/// server look dead), nor for the store (its head is read in the background).
/// Liveness and readiness: 200 `ok` when the index is in step with the store, 503
/// `catching-up` while it rebuilds or has stayed behind the store's head (a load balancer then
/// sends reads elsewhere). Takes no lock.
async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let stats = state.service.stats();
    let health = state.service.health();
    let status = if health.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    HttpResponse::build(status).insert_header((header::CACHE_CONTROL, "no-store")).json(json!({
        "status": if health.ready { "ok" } else { "catching-up" },
        "entities": stats.entities,
        "relations": stats.relations,
        "generation": health.applied,
        "storeGeneration": health.store,
        "backend": health.backend,
    }))
}

/// `/export/graph.graphml`, `/export/graph.gexf`, `/export/graph.cyjs.json`: the whole graph, or
/// with `?slug=&depth=&limit=` a neighbourhood; `includeProvenance=true` adds documents' mentions.
async fn export(req: HttpRequest, file: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    let text_error = |status: StatusCode, msg: String| {
        HttpResponse::build(status).content_type(APPLICATION_JSON).json(json!({ "error": msg }))
    };
    let Some(format) = file.strip_prefix("graph.").and_then(crate::export::Format::parse) else {
        return text_error(
            StatusCode::NOT_FOUND,
            format!("no export `{file}`; use graph.graphml, graph.gexf, graph.cyjs.json or graph.jsonl"),
        );
    };
    if state.private_reads {
        let rt = ResponseType::Json;
        match caller(&req, &state, rt).await {
            Ok(Some(_)) => {}
            Ok(None) => return text_error(StatusCode::UNAUTHORIZED, "this server needs a bearer token".into()),
            Err(r) => return *r,
        }
    }
    let q: HashMap<String, String> = match web::Query::<HashMap<String, String>>::from_query(req.query_string()) {
        Ok(q) => q.into_inner(),
        Err(e) => return text_error(StatusCode::BAD_REQUEST, format!("bad query string: {e}")),
    };
    let number = |name: &str, default: usize, max: usize| -> Result<usize, String> {
        match q.get(name) {
            None => Ok(default),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(format!("`{name}` must be a number from 1 to {max} (got `{v}`)")),
            },
        }
    };
    let sel = crate::export::Selection {
        slug: q.get("slug").cloned(),
        depth: match number("depth", 1, 3) {
            Ok(n) => n,
            Err(m) => return text_error(StatusCode::BAD_REQUEST, m),
        },
        limit: match number("limit", 100, 1000) {
            Ok(n) => n,
            Err(m) => return text_error(StatusCode::BAD_REQUEST, m),
        },
        include_provenance: q.get("includeProvenance").is_some_and(|v| v == "true"),
    };
    if format == crate::export::Format::Jsonl && sel.slug.is_none() {
        return bulk::export_jsonl(&state).await;
    }
    let g = state.service.read().await;
    match crate::export::select(&g, &sel) {
        Ok((entities, relations)) => {
            let body = crate::export::render(format, &g, &entities, &relations, &state.service.document_texts());
            HttpResponse::Ok()
                .content_type(format.content_type())
                .insert_header((
                    header::CONTENT_DISPOSITION,
                    format!(
                        "inline; filename=\"{}.{}\"",
                        sel.slug.as_deref().unwrap_or("policygraph"),
                        format.extension()
                    ),
                ))
                .body(body)
        }
        Err(e) => text_error(StatusCode::NOT_FOUND, e.to_string()),
    }
}

async fn metrics() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(telemetry::metrics_handle().render())
}

async fn method_not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, "GET, POST"))
        .json(json!({ "errors": [{ "message": "/graphql accepts GET (queries only) and POST", "extensions": { "code": code::METHOD_NOT_ALLOWED } }] }))
}

/// The parameters of a GraphQL request, from a JSON body or a query string.
struct Params {
    /// Absent only in an automatic-persisted-query request that sends the hash alone.
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<Map<String, Value>>,
    extensions: Option<Map<String, Value>>,
}

/// Which media type the client gets, from its `Accept` header.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ResponseType {
    GraphqlResponseJson,
    Json,
}

impl ResponseType {
    fn mime(self) -> &'static str {
        match self {
            ResponseType::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
            ResponseType::Json => "application/json; charset=utf-8",
        }
    }
}

/// Picks the response media type. No `Accept` means `application/json` (what clients that
/// predate the spec expect); an `Accept` that allows neither type is a 406.
fn negotiate(req: &HttpRequest) -> Result<ResponseType, Box<HttpResponse>> {
    let Some(accept) = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(ResponseType::Json);
    };
    let mut best: Option<(f32, ResponseType)> = None;
    for part in accept.split(',') {
        let mut pieces = part.split(';');
        let media = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let mut q = 1.0f32;
        for p in pieces {
            if let Some(v) = p.trim().strip_prefix("q=") {
                q = v.trim().parse().unwrap_or(0.0);
            }
        }
        if q <= 0.0 {
            continue;
        }
        let candidate = match media.as_str() {
            GRAPHQL_RESPONSE_JSON => Some(ResponseType::GraphqlResponseJson),
            APPLICATION_JSON | "application/*" | "*/*" => Some(ResponseType::Json),
            _ => None,
        };
        if let Some(c) = candidate {
            // Equal preference goes to the GraphQL media type, as the spec recommends.
            let better = match best {
                None => true,
                Some((bq, bt)) => q > bq || (q == bq && c == ResponseType::GraphqlResponseJson && bt != c),
            };
            if better {
                best = Some((q, c));
            }
        }
    }
    best.map(|(_, t)| t).ok_or_else(|| {
        Box::new(HttpResponse::NotAcceptable().content_type(APPLICATION_JSON).json(json!({
            "errors": [{ "message": format!("cannot answer in any type the Accept header allows (`{accept}`); use {GRAPHQL_RESPONSE_JSON} or {APPLICATION_JSON}"), "extensions": { "code": code::NOT_ACCEPTABLE } }]
        })))
    })
}

/// A response for a request that is not a well-formed GraphQL-over-HTTP request at all.
fn bad_request(status: StatusCode, rt: ResponseType, code: &str, message: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(rt.mime())
        .json(json!({ "errors": [{ "message": message, "extensions": { "code": code } }] }))
}

/// The caller named by `Authorization: Bearer`, `Ok(None)` without the header, or the 401 for a
/// token that is not valid (a wrong token is refused outright, whatever the operation).
async fn caller(req: &HttpRequest, state: &AppState, rt: ResponseType) -> Result<Option<Caller>, Box<HttpResponse>> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else { return Ok(None) };
    let unauthorized = |msg: &str| {
        Box::new(
            HttpResponse::Unauthorized()
                .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
                .content_type(rt.mime())
                .json(json!({ "errors": [{ "message": msg, "extensions": { "code": code::UNAUTHENTICATED } }] })),
        )
    };
    let Some(secret) = value.to_str().ok().and_then(bearer_secret) else {
        return Err(unauthorized("the Authorization header must be `Bearer <token>`"));
    };
    match state.service.authenticate(secret).await {
        Ok(Some(c)) => Ok(Some(c)),
        Ok(None) => Err(unauthorized("the bearer token is not valid (unknown or revoked)")),
        Err(e) => {
            tracing::error!(error = %e, "token look-up failed");
            Err(Box::new(bad_request(
                StatusCode::INTERNAL_SERVER_ERROR,
                rt,
                code::INTERNAL,
                "token look-up failed".into(),
            )))
        }
    }
}

/// The token of an `Authorization` value `Bearer <token>`; the scheme is case-insensitive
/// (RFC 9110 §11.1).
pub fn bearer_secret(value: &str) -> Option<&str> {
    let (scheme, secret) = value.trim_start().split_once(' ')?;
    let secret = secret.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !secret.is_empty()).then_some(secret)
}

async fn graphql_post(req: HttpRequest, mut payload: web::Payload, state: web::Data<AppState>) -> HttpResponse {
    let rt = match negotiate(&req) {
        Ok(rt) => rt,
        Err(r) => return *r,
    };
    let caller = match caller(&req, &state, rt).await {
        Ok(c) => c,
        // Not a valid token: the address's budget is the one to show.
        Err(r) => return with_budget(&state, &Who::of(&req, None), Answered { response: *r, budget: None }),
    };
    let who = Who::of(&req, caller);
    // Refused before it is read: the budget as it stands.
    let refused = |response| with_budget(&state, &who, Answered { response, budget: None });
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if media != APPLICATION_JSON {
        let msg = if content_type.is_empty() {
            "a POST needs `Content-Type: application/json`".to_string()
        } else {
            format!("unsupported Content-Type `{content_type}`; send `application/json`")
        };
        return refused(bad_request(StatusCode::UNSUPPORTED_MEDIA_TYPE, rt, code::UNSUPPORTED_MEDIA_TYPE, msg));
    }
    let mut body = web::BytesMut::new();
    let body_deadline = tokio::time::Instant::now() + state.body_timeout;
    loop {
        let chunk = match tokio::time::timeout_at(body_deadline, payload.next()).await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(_) => {
                let mut r = bad_request(
                    StatusCode::REQUEST_TIMEOUT,
                    rt,
                    code::BODY_TIMEOUT,
                    format!("the request body did not arrive whole within {} s", state.body_timeout.as_secs_f32()),
                );
                r.head_mut().set_connection_type(actix_web::http::ConnectionType::Close);
                return refused(r);
            }
        };
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                return refused(bad_request(
                    StatusCode::BAD_REQUEST,
                    rt,
                    code::BAD_REQUEST,
                    format!("cannot read the request body: {e}"),
                ))
            }
        };
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return refused(bad_request(
                StatusCode::PAYLOAD_TOO_LARGE,
                rt,
                code::PAYLOAD_TOO_LARGE,
                format!("the request body is larger than the limit of {MAX_BODY_BYTES} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    // A JSON array is a batch (Apollo's `BatchHttpLink`); JSON has no other way to start one.
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return graphql_batch(&state, rt, body, who).await;
    }
    if body.len() <= SMALL_REQUEST_BYTES {
        let answer = match post_params(&body, rt) {
            Ok(params) => execute(&state, rt, params, &who, None, Some(&state.executor)).await,
            Err(r) => Answered { response: *r, budget: None },
        };
        return with_budget(&state, &who, answer);
    }
    on_executor(&state, rt, move |state| async move {
        // Bound first: a refusal held across the await would make the future not `Send`.
        let params = match post_params(&body, rt) {
            Ok(params) => params,
            Err(r) => return with_budget(&state, &who, Answered { response: *r, budget: None }),
        };
        let answer = execute(&state, rt, params, &who, None, None).await;
        with_budget(&state, &who, answer)
    })
    .await
}

/// An answer with the `X-RateLimit-*` headers: of the budget it left, or, when it was not
/// charged (refused before it was read), of the client's budget as it stands.
fn with_budget(state: &AppState, who: &Who, answer: Answered) -> HttpResponse {
    let mut response = answer.response;
    if let Some(b) = answer.budget.or_else(|| state.limiter.peek(&who.client)) {
        b.add_headers(response.headers_mut());
    }
    response
}

/// A batch: a JSON array of operations in one POST, as Apollo Client's `BatchHttpLink` sends
/// them, answered with a JSON array in the same order. Each operation goes through the stages
/// of [`execute`] on its own, one after another (so a mutation's effect is seen by the
/// operations after it): each is charged to the rate limit, and each one's errors stay in its
/// own answer. The status is 200 unless the rate limit refused every operation (429).
async fn graphql_batch(state: &web::Data<AppState>, rt: ResponseType, body: web::BytesMut, who: Who) -> HttpResponse {
    let items: Vec<Value> = match serde_json::from_slice(&body) {
        Ok(items) => items,
        Err(e) => {
            let message = format!("the body is not valid JSON: {e}");
            return with_budget(
                state,
                &who,
                Answered {
                    response: bad_request(StatusCode::BAD_REQUEST, rt, code::BAD_REQUEST, message),
                    budget: None,
                },
            );
        }
    };
    let refusal = if items.is_empty() {
        Some("a batch must hold at least one operation; this one is an empty array".to_string())
    } else if items.len() > state.max_batch {
        Some(format!(
            "a batch may hold at most {} operations; this one holds {}: split it, or send them one by one",
            state.max_batch,
            items.len()
        ))
    } else {
        None
    };
    if let Some(message) = refusal {
        let response = bad_request(StatusCode::BAD_REQUEST, rt, code::BAD_REQUEST, message);
        return with_budget(state, &who, Answered { response, budget: None });
    }
    if body.len() <= SMALL_REQUEST_BYTES {
        let answer = run_batch(state, rt, items, &who, Some(&state.executor)).await;
        return with_budget(state, &who, answer);
    }
    on_executor(state, rt, move |state| async move {
        let answer = run_batch(&state, rt, items, &who, None).await;
        with_budget(&state, &who, answer)
    })
    .await
}

/// Runs a batch's operations in order; the answers' bodies are joined into one array.
async fn run_batch(
    state: &AppState,
    rt: ResponseType,
    items: Vec<Value>,
    who: &Who,
    executor: Option<&Executor>,
) -> Answered {
    let count = items.len();
    let (mut out, mut budget, mut limited) = (vec![b'['], None, 0);
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let answer = match params_from_json(item) {
            Ok(params) => execute(state, rt, params, who, None, executor).await,
            Err(msg) => {
                Answered { response: bad_request(StatusCode::BAD_REQUEST, rt, code::BAD_REQUEST, msg), budget: None }
            }
        };
        limited += usize::from(answer.response.status() == StatusCode::TOO_MANY_REQUESTS);
        budget = answer.budget.or(budget);
        // Every answer of `execute` is JSON (a 304 has no body, but only a GET gets one).
        out.extend_from_slice(&answer.response.into_body().try_into_bytes().unwrap_or_default());
    }
    out.push(b']');
    let mut response = match (limited == count, budget) {
        (true, Some(b)) => {
            let mut r = HttpResponse::TooManyRequests();
            r.insert_header((header::RETRY_AFTER, b.reset_in_secs.max(1)));
            r
        }
        _ => HttpResponse::Ok(),
    };
    let response = response.content_type(rt.mime()).insert_header((header::CACHE_CONTROL, "no-store")).body(out);
    Answered { response, budget }
}

/// A POST body's parameters, or the answer that says what is wrong with it.
fn post_params(body: &[u8], rt: ResponseType) -> Result<Params, Box<HttpResponse>> {
    let value = serde_json::from_slice::<Value>(body).map_err(|e| {
        Box::new(bad_request(
            StatusCode::BAD_REQUEST,
            rt,
            code::BAD_REQUEST,
            format!("the body is not valid JSON: {e}"),
        ))
    })?;
    params_from_json(value).map_err(|msg| Box::new(bad_request(StatusCode::BAD_REQUEST, rt, code::BAD_REQUEST, msg)))
}

async fn graphql_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let rt = match negotiate(&req) {
        Ok(rt) => rt,
        Err(r) => return *r,
    };
    let caller = match caller(&req, &state, rt).await {
        Ok(c) => c,
        Err(r) => return with_budget(&state, &Who::of(&req, None), Answered { response: *r, budget: None }),
    };
    let who = Who::of(&req, caller);
    let refused = |response| with_budget(&state, &who, Answered { response, budget: None });
    let pairs: HashMap<String, String> = match web::Query::<HashMap<String, String>>::from_query(req.query_string()) {
        Ok(q) => q.into_inner(),
        Err(e) => {
            return refused(bad_request(
                StatusCode::BAD_REQUEST,
                rt,
                code::BAD_REQUEST,
                format!("bad query string: {e}"),
            ))
        }
    };
    let mut obj = Map::new();
    for (k, v) in pairs {
        let value = match k.as_str() {
            "variables" | "extensions" => match serde_json::from_str::<Value>(&v) {
                Ok(v) => v,
                Err(e) => {
                    return refused(bad_request(
                        StatusCode::BAD_REQUEST,
                        rt,
                        code::BAD_REQUEST,
                        format!("parameter `{k}` is not valid JSON: {e}"),
                    ))
                }
            },
            _ => Value::String(v),
        };
        obj.insert(k, value);
    }
    let params = match params_from_json(Value::Object(obj)) {
        Ok(p) => p,
        Err(msg) => return refused(bad_request(StatusCode::BAD_REQUEST, rt, code::BAD_REQUEST, msg)),
    };
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).map(String::from);
    if req.query_string().len() <= SMALL_REQUEST_BYTES {
        let answer = execute(&state, rt, params, &who, Some(if_none_match), Some(&state.executor)).await;
        return with_budget(&state, &who, answer);
    }
    on_executor(&state, rt, move |state| async move {
        let answer = execute(&state, rt, params, &who, Some(if_none_match), None).await;
        with_budget(&state, &who, answer)
    })
    .await
}

/// Runs the whole of a big GraphQL request on the executor (see [`crate::executor`]): decoding,
/// parsing, validation, execution, serialization. What crosses back is the answer's status,
/// headers and bytes; the response itself is made again on the worker (actix's are not `Send`).
async fn on_executor<F, Fut>(state: &web::Data<AppState>, rt: ResponseType, work: F) -> HttpResponse
where
    F: FnOnce(web::Data<AppState>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = HttpResponse> + Send + 'static,
{
    let st = state.clone();
    // The response is made and taken apart on the executor; only the parts come back.
    match state.executor.run(async move { Reply::from(work(st).await) }).await {
        Ok(reply) => reply.into_response(),
        Err(e) => internal_error(rt, e),
    }
}

/// An answer in a form that can cross threads.
struct Reply {
    status: StatusCode,
    headers: Vec<(header::HeaderName, HeaderValue)>,
    body: web::Bytes,
}

impl From<HttpResponse> for Reply {
    fn from(r: HttpResponse) -> Reply {
        let status = r.status();
        let headers = r.headers().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        // Every answer of `execute` is made from bytes or JSON: its body is at hand.
        let body = r.into_body().try_into_bytes().unwrap_or_default();
        Reply { status, headers, body }
    }
}

impl Reply {
    fn into_response(self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status);
        for h in self.headers {
            r.append_header(h);
        }
        r.body(self.body)
    }
}

fn params_from_json(value: Value) -> Result<Params, String> {
    let Value::Object(mut obj) = value else {
        return Err("the request must be a JSON object with a `query`".into());
    };
    let query = match obj.remove("query") {
        Some(Value::String(q)) => Some(q),
        Some(_) => return Err("`query` must be a string".into()),
        None => None,
    };
    let operation_name = match obj.remove("operationName") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err("`operationName` must be a string or null".into()),
    };
    let object = |name: &str, v: Option<Value>| match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(format!("`{name}` must be an object or null")),
    };
    let variables = object("variables", obj.remove("variables"))?;
    let extensions = object("extensions", obj.remove("extensions"))?;
    if query.is_none() && persisted_hash(&extensions).is_none() {
        return Err("the request has no `query`".into());
    }
    Ok(Params { query, operation_name, variables, extensions })
}

/// The `extensions.persistedQuery.sha256Hash` of an automatic-persisted-query request.
fn persisted_hash(extensions: &Option<Map<String, Value>>) -> Option<String> {
    extensions.as_ref()?.get("persistedQuery")?.get("sha256Hash")?.as_str().map(String::from)
}

/// The response for errors that stopped the request before execution: with the GraphQL media
/// type a 400 and no `data`; with plain JSON a 200, as the spec asks for compatibility.
fn pre_execution_errors(rt: ResponseType, errors: Vec<Value>) -> HttpResponse {
    let status = match rt {
        ResponseType::GraphqlResponseJson => StatusCode::BAD_REQUEST,
        ResponseType::Json => StatusCode::OK,
    };
    HttpResponse::build(status).content_type(rt.mime()).json(json!({ "errors": errors }))
}

/// Who sends a request: the caller its token names, and the client whose budget it spends.
pub struct Who {
    pub caller: Option<Caller>,
    pub client: ClientKey,
}

impl Who {
    fn of(req: &HttpRequest, caller: Option<Caller>) -> Who {
        let client = match &caller {
            Some(c) => ClientKey::Token(c.name.clone()),
            None => ClientKey::Peer(req.peer_addr().map(|a| a.ip())),
        };
        Who { caller, client }
    }
}

/// An answer and where it left its client's budget (`None`: not charged, or no rate limit),
/// for the `X-RateLimit-*` headers; a batch sends those of its last element.
struct Answered {
    response: HttpResponse,
    budget: Option<Budget>,
}

/// A request's document, ready to be costed and run.
struct Plan {
    query: String,
    doc: Arc<crate::cache::Parsed>,
    op_type: Option<OperationType>,
}

/// Runs a GraphQL request, in stages: [`read`] (who may ask, and which query, persisted queries
/// resolved), [`plan`] (the parsed document, from the cache), then for a query the answer
/// cache, [`admit`] (the rate limit charges the cost before anything runs) and [`run`]
/// (validation, execution and serialization on the executor), whose [`Outcome`] is answered
/// here. A batch runs each of its operations through the same stages.
///
/// `get` is `Some(If-None-Match)` for GET requests, which may be answered from HTTP caches
/// (ETag, 304) and never run mutations. `executor` is where the execution goes when this runs
/// on an actix worker (a small request: its preparation and an answer-cache hit take
/// microseconds there, a hop to another thread would cost more); `None` when this already runs
/// on the executor.
async fn execute(
    state: &AppState,
    rt: ResponseType,
    mut params: Params,
    who: &Who,
    get: Option<Option<String>>,
    executor: Option<&Executor>,
) -> Answered {
    let unbudgeted = |response| Answered { response, budget: None };
    let query = match read(state, rt, &mut params, who) {
        Ok(q) => q,
        Err(r) => return unbudgeted(*r),
    };
    // What is refused before it runs is charged 1 point (see `rate_limit::points_for`).
    let plan = match plan(state, rt, query, params.operation_name.as_deref(), get.is_some()) {
        Ok(p) => p,
        Err(refused) => {
            return admit(state, rt, who, 1).map_or_else(|a| *a, |budget| Answered { response: *refused, budget })
        }
    };
    let is_query = plan.op_type == Some(OperationType::Query);
    // A query reads one consistent view for its whole execution, and its answer is valid for
    // that view's generation. A mutation must not hold a view: it takes the index's write lock
    // to apply what it committed.
    let limit = state.request_timeout;
    let deadline = tokio::time::Instant::now() + limit;
    let view = if is_query {
        // Behind a writer that waits for a long read, even the view can take a while.
        match tokio::time::timeout_at(deadline, state.service.read()).await {
            Ok(v) => Some(v),
            Err(_) => return unbudgeted(timed_out(rt, limit)),
        }
    } else {
        None
    };
    let generation = view.as_ref().map(|v| v.generation()).unwrap_or(0);
    let role = who.caller.as_ref().map(|c| c.role.as_str()).unwrap_or("anonymous");
    let variables = params.variables.as_ref().map(|v| Value::Object(v.clone()).to_string()).unwrap_or_default();
    let key = is_query.then(|| answer_key(&plan.query, params.operation_name.as_deref(), &variables, role, rt.mime()));
    let etag = match (&get, &key) {
        (Some(_), Some(k)) => Some(format!("W/\"{generation}-{}\"", hex::encode(&k[..12]))),
        _ => None,
    };
    let cache_control =
        format!("{}, max-age={}", if state.private_reads { "private" } else { "public" }, state.max_age);
    if let (Some(Some(inm)), Some(tag)) = (&get, &etag) {
        if inm.split(',').any(|t| t.trim() == tag || t.trim() == "*") {
            let response = HttpResponse::NotModified()
                .insert_header((header::ETAG, tag.clone()))
                .insert_header((header::CACHE_CONTROL, cache_control))
                .finish();
            // Nothing ran and nothing is sent again: one point, like a refusal.
            return admit(state, rt, who, 1).map_or_else(|a| *a, |budget| Answered { response, budget });
        }
    }
    let respond = |body: web::Bytes, cacheable: bool| {
        let mut r = HttpResponse::Ok();
        r.content_type(rt.mime());
        match &etag {
            Some(tag) if cacheable => {
                r.insert_header((header::ETAG, tag.clone()))
                    .insert_header((header::CACHE_CONTROL, cache_control.clone()));
            }
            // An answer that reads its client's budget changes with every request.
            _ if !cacheable => {
                r.insert_header((header::CACHE_CONTROL, "no-store"));
            }
            _ => {}
        }
        r.body(body)
    };
    if let Some(k) = &key {
        if let Some((body, cost)) = state.answers.get(k, generation) {
            let points = rate_limit::points_for(Some(cost), crate::api::limits::MAX_COST);
            return match admit(state, rt, who, points) {
                Ok(budget) => Answered { response: respond(body, true), budget },
                Err(refused) => *refused,
            };
        }
    }
    let cost = cost_of(state, &plan, params.operation_name.as_deref(), params.variables.as_ref());
    let points = rate_limit::points_for(cost, crate::api::limits::MAX_COST);
    let budget = match admit(state, rt, who, points) {
        Ok(b) => b,
        Err(refused) => return *refused,
    };
    let charged = budget.map(|b| ClientBudget {
        cost: points,
        limit: b.limit,
        used: b.used,
        reset_epoch: b.reset_epoch,
        read: Default::default(),
    });
    if let (Some(view), Some(cost), true) = (&view, cost, state.compiled_reads) {
        if plan.doc.plan().is_some() {
            let answer = run_compiled(
                &state.service,
                plan.doc.clone(),
                view.clone(),
                params.operation_name.clone(),
                params.variables.clone(),
                cost,
                executor,
            )
            .await;
            if let Some(body) = answer {
                if let Some(k) = key {
                    state.answers.put(k, generation, body.clone(), cost);
                }
                return Answered { response: respond(body, true), budget };
            }
        }
    }
    let read_flag = charged.as_ref().map(|c| c.read.clone());
    let time_limit =
        is_query.then(|| TimeLimit { deadline: crate::deadline::Deadline::at(deadline.into_std()), limit });
    let parsed = plan.doc.clone();
    let request = request_of(plan, params, who.caller.clone(), view, charged);
    let outcome = run(state, request, time_limit, deadline, executor).await;
    if let Ok(Some(Outcome::Answer(_) | Outcome::WithErrors(_))) = &outcome {
        // async-graphql got past validation: from now on the document may take the compiled path.
        parsed.validated();
    }
    let response = match outcome {
        Err(lost) => internal_error(rt, lost),
        Ok(None) => timed_out(rt, limit),
        Ok(Some(Outcome::Answer(body))) => {
            let cacheable = !read_flag.is_some_and(|f| f.load(std::sync::atomic::Ordering::Relaxed));
            if let (Some(k), true) = (key, cacheable) {
                state.answers.put(k, generation, body.clone(), cost.unwrap_or(0));
            }
            respond(body, cacheable)
        }
        Ok(Some(Outcome::Refused(errors))) => pre_execution_errors(rt, errors),
        // Answers with errors are neither cached nor cacheable.
        Ok(Some(Outcome::WithErrors(body))) => {
            HttpResponse::Ok().content_type(rt.mime()).insert_header((header::CACHE_CONTROL, "no-store")).body(body)
        }
    };
    Answered { response, budget }
}

/// The first stage: whether the caller may ask at all, and the query it asks (an automatic
/// persisted query's hash resolved to its text).
fn read(state: &AppState, rt: ResponseType, params: &mut Params, who: &Who) -> Result<String, Box<HttpResponse>> {
    if state.private_reads && who.caller.is_none() {
        return Err(Box::new(HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
            .content_type(rt.mime())
            .json(json!({ "errors": [{ "message": "this server needs `Authorization: Bearer <token>` for every request", "extensions": { "code": code::UNAUTHENTICATED } }] }))));
    }
    // Automatic persisted queries: a hash alone names a query sent before with its hash.
    if let Some(hash) = persisted_hash(&params.extensions) {
        match &params.query {
            Some(q) => {
                if !state.persisted.register(&hash, q) {
                    return Err(Box::new(pre_execution_errors(
                        rt,
                        vec![
                            json!({ "message": "provided sha256Hash does not match the query", "extensions": { "code": code::BAD_USER_INPUT } }),
                        ],
                    )));
                }
            }
            None => match state.persisted.get(&hash) {
                Some(q) => params.query = Some(q.to_string()),
                None => {
                    count_errors([code::PERSISTED_QUERY_NOT_FOUND]);
                    // 200, as Apollo's servers answer it: the client then resends with the query.
                    return Err(Box::new(HttpResponse::Ok().content_type(rt.mime()).json(json!({ "errors": [{
                        "message": "PersistedQueryNotFound",
                        "extensions": { "code": code::PERSISTED_QUERY_NOT_FOUND }
                    }] }))));
                }
            },
        }
    }
    params.query.take().ok_or_else(|| {
        Box::new(bad_request(StatusCode::BAD_REQUEST, rt, code::BAD_REQUEST, "the request has no `query`".into()))
    })
}

/// The second stage: the parsed document (from the cache when it was seen before) and the
/// type of the operation that would run; a syntax error, or a mutation sent with GET, is the
/// answer instead.
fn plan(
    state: &AppState,
    rt: ResponseType,
    query: String,
    operation: Option<&str>,
    get: bool,
) -> Result<Plan, Box<HttpResponse>> {
    let doc = match state.documents.get(&query) {
        Some(doc) => doc,
        None => match async_graphql::parser::parse_query(&query) {
            Ok(doc) => {
                let doc = crate::cache::Parsed::new(doc);
                state.documents.put(&query, doc.clone());
                doc
            }
            Err(e) => {
                count_errors([code::PARSE_FAILED]);
                return Err(Box::new(pre_execution_errors(rt, vec![parse_error(&query, e)])));
            }
        },
    };
    let op_type = operation_type(&doc, operation);
    match op_type {
        // No such operation: validation names the problem.
        Some(OperationType::Query) | None => {}
        Some(other) if get => {
            return Err(Box::new(HttpResponse::MethodNotAllowed()
                .insert_header((header::ALLOW, "POST"))
                .content_type(rt.mime())
                .json(json!({ "errors": [{ "message": format!("a {other} cannot be sent with GET; use POST"), "extensions": { "code": code::METHOD_NOT_ALLOWED } }] }))));
        }
        Some(_) => {}
    }
    Ok(Plan { query, doc, op_type })
}

/// The cost of the operation a plan would run, as [`crate::api::limits`] prices it (`None`: no
/// operation of that name).
fn cost_of(
    state: &AppState,
    plan: &Plan,
    operation: Option<&str>,
    variables: Option<&Map<String, Value>>,
) -> Option<u64> {
    let model = crate::api::limits::CostModel::for_graph(state.service.stats(), state.schema_size);
    let variables =
        variables.map(|v| async_graphql::Variables::from_json(Value::Object(v.clone()))).unwrap_or_default();
    crate::api::limits::operation_cost(&plan.doc, operation, &variables, &model)
}

/// The rate limit's stage: charges `points` to the client, and gives the budget that left
/// (`None` without a rate limit), or the 429 answer when the budget cannot cover them.
fn admit(state: &AppState, rt: ResponseType, who: &Who, points: u64) -> Result<Option<Budget>, Box<Answered>> {
    match state.limiter.charge(&who.client, points) {
        None => Ok(None),
        Some(Ok(budget)) => Ok(Some(budget)),
        Some(Err(budget)) => {
            let response = rate_limited(rt, &budget, state.limiter.window(), points);
            Err(Box::new(Answered { response, budget: Some(budget) }))
        }
    }
}

/// 429 with `Retry-After` and `RATE_LIMITED`: the budget, what the request would cost, and
/// when the budget is whole again.
fn rate_limited(rt: ResponseType, budget: &Budget, window: Duration, points: u64) -> HttpResponse {
    HttpResponse::TooManyRequests()
        .content_type(rt.mime())
        .insert_header((header::RETRY_AFTER, budget.reset_in_secs.max(1)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "errors": [rate_limit_error(budget, window, points)] }))
}

/// The error of a request refused by the rate limit, over HTTP or websocket.
pub(crate) fn rate_limit_error(budget: &Budget, window: Duration, points: u64) -> Value {
    count_errors([code::RATE_LIMITED]);
    let message = format!(
        "rate limit exceeded: this client may spend {} cost points every {} s; {} are left and this request costs {points}; the budget is whole again in {} s",
        budget.limit,
        window.as_secs_f64(),
        budget.remaining(),
        budget.reset_in_secs
    );
    json!({ "message": message, "extensions": {
        "code": code::RATE_LIMITED,
        "limit": budget.limit,
        "remaining": budget.remaining(),
        "cost": points,
        "resetAt": reset_at(budget.reset_epoch),
    } })
}

/// Epoch seconds as RFC 3339 (UTC).
fn reset_at(epoch: u64) -> String {
    chrono::DateTime::from_timestamp(epoch as i64, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The request async-graphql runs: the plan's parsed document with the request's data (the
/// caller, the graph view of a query, the client's budget for `rateLimit`).
fn request_of(
    plan: Plan,
    params: Params,
    caller: Option<Caller>,
    view: Option<crate::service::GraphView>,
    budget: Option<ClientBudget>,
) -> async_graphql::Request {
    let mut request = async_graphql::Request::new(plan.query);
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    if let Some(vars) = params.variables {
        request = request.variables(async_graphql::Variables::from_json(Value::Object(vars)));
    }
    if let Some(ext) = params.extensions {
        for (k, v) in ext {
            if let Ok(v) = async_graphql::Value::from_json(v) {
                request.extensions.insert(k, v);
            }
        }
    }
    request.set_parsed_query(plan.doc.doc.clone());
    if let Some(c) = caller {
        request = request.data(c);
    }
    if let Some(v) = view {
        request = request.data(v);
    }
    if let Some(b) = budget {
        request = request.data(b);
    }
    request
}

/// The stage that runs: validation, execution and the answer's serialization, on the executor;
/// a query stops at its deadline there (the resolvers that search the graph stop themselves;
/// this timeout is the backstop for what has no await point until it is done). Mutations are
/// not cut off: a write that has committed cannot be taken back by a timer. `Ok(None)`: the
/// query ran out of time.
async fn run(
    state: &AppState,
    request: async_graphql::Request,
    time_limit: Option<TimeLimit>,
    deadline: tokio::time::Instant,
    executor: Option<&Executor>,
) -> Result<Option<Outcome>, crate::executor::Lost> {
    let started = ExecutionStarted::default();
    let request = request.data(started.clone());
    let schema = state.schema.clone();
    let run = async move {
        let response = match time_limit {
            Some(t) => tokio::time::timeout_at(deadline, schema.execute(request.data(t))).await.ok()?,
            None => schema.execute(request).await,
        };
        Some(shape_answer(response, started.get()))
    };
    match executor {
        Some(executor) => executor.run(run).await,
        None => Ok(run.await),
    }
}

/// The most a query may cost for its compiled plan to run on the HTTP worker itself: below it a
/// plan's work is a few dozen look-ups, less than the hop to the executor and back (two context
/// switches on a one-core server); above it, or where the plan reaches a hub's page or a search,
/// it runs on the executor like an execution.
const INLINE_COST: u64 = 1_000;

/// The compiled read path's stage: the plan run over the request's view. `None`: this request is
/// async-graphql's after all (see [`crate::compiled`]).
async fn run_compiled(
    state_texts: &crate::service::Service,
    parsed: Arc<crate::cache::Parsed>,
    view: crate::service::GraphView,
    operation: Option<String>,
    variables: Option<Map<String, Value>>,
    cost: u64,
    executor: Option<&Executor>,
) -> Option<web::Bytes> {
    use crate::compiled::{Ran, Request};
    let max = crate::api::limits::MAX_COST;
    let plan = parsed.plan()?;
    let texts = plan.needs_texts().then(|| state_texts.document_texts());
    let request = Request { operation: operation.as_deref(), variables: variables.as_ref(), texts: texts.as_ref() };
    // On the worker (an executor to hop to) only when light; already on the executor, whole.
    let first = if executor.is_none() || cost <= INLINE_COST {
        crate::compiled::run(plan, &view, request, cost, max, executor.is_some())
    } else {
        Ran::Heavy
    };
    let ran = match (first, executor) {
        (Ran::Heavy, Some(executor)) => {
            let work = async move {
                let plan = parsed.plan()?;
                let request =
                    Request { operation: operation.as_deref(), variables: variables.as_ref(), texts: texts.as_ref() };
                match crate::compiled::run(plan, &view, request, cost, max, false) {
                    Ran::Answer(body) => Some(body),
                    _ => None,
                }
            };
            executor.run(work).await.ok().flatten().map(Ran::Answer).unwrap_or(Ran::Declined)
        }
        (ran, _) => ran,
    };
    let answer = match ran {
        Ran::Answer(body) => Some(web::Bytes::from(body)),
        Ran::Heavy | Ran::Declined => None,
    };
    let outcome = if answer.is_some() { "answered" } else { "fell_back" };
    metrics::counter!("compiled_reads_total", "outcome" => outcome).increment(1);
    answer
}

/// What an execution comes to, shaped and serialized on the executor (a 10,000-error answer
/// or a big page is CPU work the actix worker must not do).
enum Outcome {
    /// No errors: the answer, cacheable.
    Answer(web::Bytes),
    /// Refused before execution (parse, validation, cost): the errors alone.
    Refused(Vec<Value>),
    /// Executed with errors: data and errors, not cacheable.
    WithErrors(web::Bytes),
}

fn shape_answer(mut response: async_graphql::Response, executed: bool) -> Outcome {
    if response.errors.is_empty() {
        return Outcome::Answer(web::Bytes::from(serde_json::to_vec(&response).unwrap_or_default()));
    }
    // Only what is sent is turned into JSON: at most MAX_ERRORS, the last one counting the rest.
    let total = response.errors.len();
    if total > MAX_ERRORS {
        response.errors.truncate(MAX_ERRORS - 1);
    }
    let mut body = serde_json::to_value(&response).unwrap_or_else(|_| json!({}));
    let Some(errors) = body.get_mut("errors").and_then(Value::as_array_mut) else {
        return Outcome::WithErrors(web::Bytes::from(body.to_string()));
    };
    if total > MAX_ERRORS {
        errors.push(too_many_errors(total - (MAX_ERRORS - 1)));
    }
    bound_errors(errors);
    for e in errors.iter_mut() {
        if e.pointer("/extensions/code").is_none() {
            let c = if executed { code::BAD_USER_INPUT } else { code::VALIDATION_FAILED };
            e.as_object_mut()
                .map(|o| o.entry("extensions").or_insert_with(|| json!({})))
                .and_then(Value::as_object_mut)
                .map(|x| x.insert("code".into(), json!(c)));
        }
    }
    count_errors(errors.iter().filter_map(|e| e.pointer("/extensions/code").and_then(Value::as_str)));
    if !executed {
        return Outcome::Refused(std::mem::take(errors));
    }
    Outcome::WithErrors(web::Bytes::from(body.to_string()))
}

/// GraphQL over websocket, on the GraphQL endpoint: graphql-transport-ws and the legacy
/// graphql-ws protocol (see [`crate::ws`]). The bearer token may come in the upgrade request's
/// `Authorization` header (a bad one gets a 401 here) or in `connection_init`'s payload.
async fn graphql_ws(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> actix_web::Result<HttpResponse> {
    let header_caller = match caller(&req, &state, ResponseType::Json).await {
        Ok(c) => c,
        Err(r) => return Ok(*r),
    };
    crate::ws::start(&req, payload, &state, header_caller)
}

/// The executor lost a request (a panic in a resolver): the client gets a 500 with a code, the
/// log gets the details.
fn internal_error(rt: ResponseType, e: crate::executor::Lost) -> HttpResponse {
    tracing::error!(error = %e, "a request failed on the executor");
    count_errors([code::INTERNAL]);
    HttpResponse::InternalServerError().content_type(rt.mime()).json(json!({ "errors": [{
        "message": "the server failed to answer this request; it is logged",
        "extensions": { "code": code::INTERNAL }
    }] }))
}

/// A query stopped by its time limit before it had an answer: no `data`, so with the GraphQL
/// media type not a 2xx (503: nothing is wrong with the request as such, the server would not
/// spend more on it); with plain JSON a 200, like every other error.
fn timed_out(rt: ResponseType, limit: Duration) -> HttpResponse {
    count_errors([code::REQUEST_TIMEOUT]);
    let status = match rt {
        ResponseType::GraphqlResponseJson => StatusCode::SERVICE_UNAVAILABLE,
        ResponseType::Json => StatusCode::OK,
    };
    let message = crate::api::error::ApiError::TimedOut { limit_ms: limit.as_millis() as u64 }.to_string();
    HttpResponse::build(status)
        .content_type(rt.mime())
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "errors": [{ "message": message, "extensions": { "code": code::REQUEST_TIMEOUT } }] }))
}

/// At most [`MAX_ERRORS`] errors, the last saying how many were left out, each message at most
/// [`MAX_MESSAGE_CHARS`] long.
/// The last error of a cut list.
fn too_many_errors(left_out: usize) -> Value {
    json!({
        "message": format!("{left_out} more error(s) left out; an answer carries at most {MAX_ERRORS}"),
        "extensions": { "code": code::TOO_MANY_ERRORS }
    })
}

pub(crate) fn bound_errors(errors: &mut Vec<Value>) {
    if errors.len() > MAX_ERRORS {
        let left_out = errors.len() - (MAX_ERRORS - 1);
        errors.truncate(MAX_ERRORS - 1);
        errors.push(too_many_errors(left_out));
    }
    for e in errors.iter_mut() {
        if let Some(Value::String(m)) = e.get_mut("message") {
            if let Some(short) = shorten(m, MAX_MESSAGE_CHARS) {
                *m = short;
            }
        }
    }
}

/// `text` cut to `max` characters with an ellipsis, or `None` if it is short enough.
fn shorten(text: &str, max: usize) -> Option<String> {
    let (cut, _) = text.char_indices().nth(max)?;
    Some(format!("{}…", &text[..cut]))
}

/// A parse error as a client gets it: where, what was expected, and at most a short excerpt of
/// the document there (the parser's own message quotes the whole line, which can be the whole
/// document).
pub(crate) fn parse_error(query: &str, e: async_graphql::parser::Error) -> Value {
    use async_graphql::parser::Error as E;
    let locations: Vec<Value> = e.positions().map(|p| json!({ "line": p.line, "column": p.column })).collect();
    let message = match &e {
        E::Syntax { message, start, .. } => {
            // pest's message ends with "= expected …": that is the part worth keeping.
            let expected =
                message.lines().rev().find_map(|l| l.trim().strip_prefix("= ")).unwrap_or("syntax error").to_string();
            let line = query.lines().nth(start.line.saturating_sub(1)).unwrap_or("");
            let from = line.char_indices().nth(start.column.saturating_sub(1).saturating_sub(20)).map_or(0, |(i, _)| i);
            let excerpt = &line[from..];
            let excerpt = shorten(excerpt, 40).unwrap_or_else(|| excerpt.to_string());
            format!("syntax error at line {}, column {}: {expected}, near `{excerpt}`", start.line, start.column)
        }
        other => shorten(&other.to_string(), MAX_MESSAGE_CHARS).unwrap_or_else(|| other.to_string()),
    };
    json!({ "message": message, "locations": locations, "extensions": { "code": code::PARSE_FAILED } })
}

pub(crate) fn count_errors<'a>(codes: impl IntoIterator<Item = &'a str>) {
    for c in codes {
        metrics::counter!("graphql_errors_total", "code" => c.to_string()).increment(1);
    }
}

/// The type of the operation that would run, or `None` if the name matches none.
pub(crate) fn operation_type(
    doc: &async_graphql::parser::types::ExecutableDocument,
    name: Option<&str>,
) -> Option<OperationType> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(n)) => ops.get(n).map(|op| op.node.ty),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next().map(|op| op.node.ty),
        (DocumentOperations::Multiple(_), None) => None,
    }
}
