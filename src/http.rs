//! The HTTP server: GraphQL over HTTP (POST and GET, per the GraphQL-over-HTTP specification),
//! GraphiQL served from the binary, `/healthz` and `/metrics`.
//!
//! The `/graphql` handler is our own rather than async-graphql-actix-web's extractor, because
//! the spec's rules (content negotiation, 4xx before execution with
//! `application/graphql-response+json`, no mutations over GET) need control of the response.

use std::collections::HashMap;
use std::net::TcpListener;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use async_graphql::parser::types::{DocumentOperations, OperationType};
use futures_util::StreamExt;
use serde_json::{json, Map, Value};

use crate::api::error::code;
use crate::api::{build_schema, ExecutionStarted, PolicySchema};
use crate::auth::Caller;
use crate::service::Service;
use crate::telemetry;

/// The largest request body accepted on `/graphql`.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const APPLICATION_JSON: &str = "application/json";

/// Everything a handler needs; cheap to clone (one per worker).
#[derive(Clone)]
pub struct AppState {
    pub service: Service,
    pub schema: PolicySchema,
    pub private_reads: bool,
}

/// Settings of the HTTP server.
#[derive(Debug, Clone, Default)]
pub struct HttpConfig {
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    /// Reads (queries and subscriptions) need a token too.
    pub private_reads: bool,
}

/// Starts the server on an already-bound listener (tests bind port 0 and read the port back).
pub fn start(listener: TcpListener, service: Service, config: &HttpConfig) -> std::io::Result<Server> {
    let state = AppState { schema: build_schema(Some(service.clone())), service, private_reads: config.private_reads };
    // Install the recorder before the first request so that every metric is captured.
    telemetry::metrics_handle();
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(state.clone()))
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
                    Ok(res)
                }
            })
            .wrap(tracing_actix_web::TracingLogger::default())
            .configure(routes)
    })
    .listen(listener)?
    .shutdown_timeout(10);
    if config.workers > 0 {
        server = server.workers(config.workers);
    }
    Ok(server.run())
}

/// The routes, also used by tests that build the app in-process.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/graphql")
            .route(web::post().to(graphql_post))
            .route(web::get().guard(actix_web::guard::Header("upgrade", "websocket")).to(graphql_ws))
            .route(web::get().to(graphql_get))
            .route(web::route().to(method_not_allowed)),
    )
    .service(web::resource("/healthz").route(web::get().to(healthz)))
    .service(web::resource("/metrics").route(web::get().to(metrics)))
    .configure(crate::graphiql::routes);
}

fn route_label(path: &str) -> &'static str {
    match path {
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

async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let g = state.service.read().await;
    HttpResponse::Ok().json(json!({
        "status": "ok",
        "entities": g.entity_count(),
        "relations": g.relation_count(),
        "generation": g.generation(),
    }))
}

async fn metrics() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(telemetry::metrics_handle().render())
}

async fn method_not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, "GET, POST"))
        .json(json!({ "errors": [{ "message": "/graphql accepts GET (queries only) and POST", "extensions": { "code": "METHOD_NOT_ALLOWED" } }] }))
}

/// The parameters of a GraphQL request, from a JSON body or a query string.
struct Params {
    query: String,
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
            "errors": [{ "message": format!("cannot answer in any type the Accept header allows (`{accept}`); use {GRAPHQL_RESPONSE_JSON} or {APPLICATION_JSON}"), "extensions": { "code": "NOT_ACCEPTABLE" } }]
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
fn caller(req: &HttpRequest, state: &AppState, rt: ResponseType) -> Result<Option<Caller>, Box<HttpResponse>> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else { return Ok(None) };
    let unauthorized = |msg: &str| {
        Box::new(
            HttpResponse::Unauthorized()
                .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
                .content_type(rt.mime())
                .json(json!({ "errors": [{ "message": msg, "extensions": { "code": code::UNAUTHENTICATED } }] })),
        )
    };
    let Some(secret) = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).map(str::trim) else {
        return Err(unauthorized("the Authorization header must be `Bearer <token>`"));
    };
    match state.service.authenticate(secret) {
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

async fn graphql_post(req: HttpRequest, mut payload: web::Payload, state: web::Data<AppState>) -> HttpResponse {
    let rt = match negotiate(&req) {
        Ok(rt) => rt,
        Err(r) => return *r,
    };
    let caller = match caller(&req, &state, rt) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if media != APPLICATION_JSON {
        let msg = if content_type.is_empty() {
            "a POST needs `Content-Type: application/json`".to_string()
        } else {
            format!("unsupported Content-Type `{content_type}`; send `application/json`")
        };
        return bad_request(StatusCode::UNSUPPORTED_MEDIA_TYPE, rt, "UNSUPPORTED_MEDIA_TYPE", msg);
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                return bad_request(
                    StatusCode::BAD_REQUEST,
                    rt,
                    "BAD_REQUEST",
                    format!("cannot read the request body: {e}"),
                )
            }
        };
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return bad_request(
                StatusCode::PAYLOAD_TOO_LARGE,
                rt,
                "PAYLOAD_TOO_LARGE",
                format!("the request body is larger than the limit of {MAX_BODY_BYTES} bytes"),
            );
        }
        body.extend_from_slice(&chunk);
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return bad_request(StatusCode::BAD_REQUEST, rt, "BAD_REQUEST", format!("the body is not valid JSON: {e}"))
        }
    };
    let params = match params_from_json(value) {
        Ok(p) => p,
        Err(msg) => return bad_request(StatusCode::BAD_REQUEST, rt, "BAD_REQUEST", msg),
    };
    execute(&state, rt, params, caller, false).await
}

async fn graphql_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let rt = match negotiate(&req) {
        Ok(rt) => rt,
        Err(r) => return *r,
    };
    let caller = match caller(&req, &state, rt) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let pairs: HashMap<String, String> = match web::Query::<HashMap<String, String>>::from_query(req.query_string()) {
        Ok(q) => q.into_inner(),
        Err(e) => return bad_request(StatusCode::BAD_REQUEST, rt, "BAD_REQUEST", format!("bad query string: {e}")),
    };
    let mut obj = Map::new();
    for (k, v) in pairs {
        let value = match k.as_str() {
            "variables" | "extensions" => match serde_json::from_str::<Value>(&v) {
                Ok(v) => v,
                Err(e) => {
                    return bad_request(
                        StatusCode::BAD_REQUEST,
                        rt,
                        "BAD_REQUEST",
                        format!("parameter `{k}` is not valid JSON: {e}"),
                    )
                }
            },
            _ => Value::String(v),
        };
        obj.insert(k, value);
    }
    let params = match params_from_json(Value::Object(obj)) {
        Ok(p) => p,
        Err(msg) => return bad_request(StatusCode::BAD_REQUEST, rt, "BAD_REQUEST", msg),
    };
    execute(&state, rt, params, caller, true).await
}

fn params_from_json(value: Value) -> Result<Params, String> {
    let Value::Object(mut obj) = value else {
        return Err("the request must be a JSON object with a `query`".into());
    };
    let query = match obj.remove("query") {
        Some(Value::String(q)) => q,
        Some(_) => return Err("`query` must be a string".into()),
        None => return Err("the request has no `query`".into()),
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
    Ok(Params { query, operation_name, variables, extensions })
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

async fn execute(
    state: &AppState,
    rt: ResponseType,
    params: Params,
    caller: Option<Caller>,
    is_get: bool,
) -> HttpResponse {
    let doc = match async_graphql::parser::parse_query(&params.query) {
        Ok(doc) => doc,
        Err(e) => {
            let server_error: async_graphql::ServerError = e.into();
            let mut v = serde_json::to_value(&server_error).unwrap_or_else(|_| json!({ "message": "parse error" }));
            v["extensions"] = json!({ "code": code::PARSE_FAILED });
            count_errors([code::PARSE_FAILED]);
            return pre_execution_errors(rt, vec![v]);
        }
    };
    let op_type = operation_type(&doc, params.operation_name.as_deref());
    if state.private_reads && caller.is_none() {
        return HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
            .content_type(rt.mime())
            .json(json!({ "errors": [{ "message": "this server needs `Authorization: Bearer <token>` for every request", "extensions": { "code": code::UNAUTHENTICATED } }] }));
    }
    if is_get {
        match op_type {
            Some(OperationType::Query) => {}
            Some(other) => {
                return HttpResponse::MethodNotAllowed()
                    .insert_header((header::ALLOW, "POST"))
                    .content_type(rt.mime())
                    .json(json!({ "errors": [{ "message": format!("a {other} cannot be sent with GET; use POST"), "extensions": { "code": "METHOD_NOT_ALLOWED" } }] }));
            }
            // No such operation: validation names the problem below.
            None => {}
        }
    }
    let started = ExecutionStarted::default();
    let mut request = async_graphql::Request::new(params.query);
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
    request.set_parsed_query(doc);
    let mut request = request.data(started.clone());
    if let Some(c) = caller {
        request = request.data(c);
    }
    // A query reads one consistent view for its whole execution. A mutation must not hold one:
    // it takes the index's write lock to apply what it committed.
    if op_type == Some(OperationType::Query) {
        request = request.data(state.service.read().await);
    }
    let response = state.schema.execute(request).await;

    let executed = started.get();
    let mut body = serde_json::to_value(&response).unwrap_or_else(|_| json!({}));
    if let Some(errors) = body.get_mut("errors").and_then(Value::as_array_mut) {
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
            return pre_execution_errors(rt, std::mem::take(errors));
        }
    }
    HttpResponse::Ok().content_type(rt.mime()).json(body)
}

/// Subscriptions over websocket, on the GraphQL endpoint. Speaks graphql-transport-ws and the
/// legacy graphql-ws protocol. The bearer token may come in the upgrade request's
/// `Authorization` header or in `connection_init`'s payload (`{"Authorization": "Bearer …"}`).
async fn graphql_ws(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> actix_web::Result<HttpResponse> {
    let header_caller = match caller(&req, &state, ResponseType::Json) {
        Ok(c) => c,
        Err(r) => return Ok(*r),
    };
    let service = state.service.clone();
    let private = state.private_reads;
    async_graphql_actix_web::GraphQLSubscription::new(state.schema.clone())
        .on_connection_init(move |value| {
            let service = service.clone();
            let header_caller = header_caller.clone();
            async move {
                let mut data = async_graphql::Data::default();
                let from_payload = value
                    .as_object()
                    .and_then(|o| o.get("Authorization").or_else(|| o.get("authorization")))
                    .and_then(|v| v.as_str())
                    .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).trim().to_string());
                let caller = match from_payload {
                    Some(secret) => match service.authenticate(&secret) {
                        Ok(Some(c)) => Some(c),
                        _ => return Err("the bearer token is not valid (unknown or revoked)".into()),
                    },
                    None => header_caller,
                };
                if private && caller.is_none() {
                    return Err("this server needs a bearer token for subscriptions".into());
                }
                if let Some(c) = caller {
                    data.insert(c);
                }
                Ok(data)
            }
        })
        .start(&req, payload)
}

fn count_errors<'a>(codes: impl IntoIterator<Item = &'a str>) {
    for c in codes {
        metrics::counter!("graphql_errors_total", "code" => c.to_string()).increment(1);
    }
}

/// The type of the operation that would run, or `None` if the name matches none.
fn operation_type(doc: &async_graphql::parser::types::ExecutableDocument, name: Option<&str>) -> Option<OperationType> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(n)) => ops.get(n).map(|op| op.node.ty),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next().map(|op| op.node.ty),
        (DocumentOperations::Multiple(_), None) => None,
    }
}
