//! GraphQL over websocket on `/graphql`: the graphql-transport-ws protocol (as graphql-ws's
//! `PROTOCOL.md` specifies it) and the legacy `graphql-ws` protocol of
//! subscriptions-transport-ws.
//!
//! Both are spoken here rather than by async-graphql's handler, because a socket is a way to make
//! the server do work for as long as it stays open, and that handler bounds none of it: it let one
//! socket hold a thousand subscriptions, kept a socket that never said `connection_init` open for
//! ever, and closed with codes the protocol does not define. Here:
//!
//! - a socket must send `connection_init` within [`WsConfig::init_timeout`] (else 4408); a second
//!   one closes it (4429); a bad token or, with private reads, no token closes it (4403); an
//!   operation before the acknowledgement closes it (4401); an ID already in use closes it
//!   (4409); a message that is not one of the protocol's closes it (4400); a frame larger than
//!   [`WsConfig::max_message_bytes`] closes it (1009); a socket that does not choose one of the
//!   two protocols is closed at once (4406);
//! - one socket runs at most [`WsConfig::max_subscriptions_per_socket`] operations at a time and
//!   one client (a token, or an address without one) at most
//!   [`WsConfig::max_subscriptions_per_client`] over all its sockets; past that a `subscribe` is
//!   refused with an `error` message (`TOO_MANY_SUBSCRIPTIONS`) and the socket stays open;
//! - queries get the request time limit they get over HTTP ([`crate::api::work::TimeLimit`]);
//!   subscriptions, which are meant to last, get none;
//! - the server pings every [`WsConfig::ping_interval`] and closes a socket that has not answered
//!   by the next ping (and one that does not read what it is sent).
//!
//! An operation that fails before it runs (parse, validation, cost) gets an `error` message;
//! one that ran gets `next` (with its errors, if any), then `complete`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason, ProtocolError, Session};
use async_graphql::parser::types::OperationType;
use futures_util::StreamExt;
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::api::error::code;
use crate::api::work::TimeLimit;
use crate::api::ExecutionStarted;
use crate::auth::Caller;
use crate::deadline::Deadline;
use crate::http::{self, AppState};

/// Settings of the websocket endpoint.
#[derive(Debug, Clone)]
pub struct WsConfig {
    /// How long a socket may stay open without `connection_init` (then it is closed with 4408).
    pub init_timeout: Duration,
    /// How often the server pings; a socket that has not answered by the next ping is closed.
    pub ping_interval: Duration,
    /// The most operations one socket may have running at a time.
    pub max_subscriptions_per_socket: usize,
    /// The most operations one client may have running at a time over all its sockets: a client
    /// is a token, or the peer's address for sockets without one.
    pub max_subscriptions_per_client: usize,
    /// The largest message accepted; a larger one closes the socket (1009).
    pub max_message_bytes: usize,
}

/// The default of [`WsConfig::init_timeout`].
pub const DEFAULT_INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default of [`WsConfig::ping_interval`].
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(15);
/// The default of [`WsConfig::max_subscriptions_per_socket`].
pub const DEFAULT_MAX_SUBSCRIPTIONS_PER_SOCKET: usize = 100;
/// The default of [`WsConfig::max_subscriptions_per_client`].
pub const DEFAULT_MAX_SUBSCRIPTIONS_PER_CLIENT: usize = 500;
/// The default of [`WsConfig::max_message_bytes`]: the limit of an HTTP request body.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = http::MAX_BODY_BYTES;

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            init_timeout: DEFAULT_INIT_TIMEOUT,
            ping_interval: DEFAULT_PING_INTERVAL,
            max_subscriptions_per_socket: DEFAULT_MAX_SUBSCRIPTIONS_PER_SOCKET,
            max_subscriptions_per_client: DEFAULT_MAX_SUBSCRIPTIONS_PER_CLIENT,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

/// The close codes of graphql-transport-ws (the legacy protocol gets the same ones).
pub mod close {
    /// A message that is not one of the protocol's, or not JSON.
    pub const BAD_REQUEST: u16 = 4400;
    /// An operation before `connection_ack`.
    pub const UNAUTHORIZED: u16 = 4401;
    /// `connection_init` refused: a token that is not valid, or none where reads are private.
    pub const FORBIDDEN: u16 = 4403;
    /// The client asked for neither protocol.
    pub const SUBPROTOCOL_NOT_ACCEPTABLE: u16 = 4406;
    /// No `connection_init` within the time allowed.
    pub const INIT_TIMEOUT: u16 = 4408;
    /// A `subscribe` with the ID of an operation still running.
    pub const SUBSCRIBER_EXISTS: u16 = 4409;
    /// A second `connection_init`.
    pub const TOO_MANY_INIT: u16 = 4429;
    /// Something failed on the server's side.
    pub const INTERNAL: u16 = 4500;
    /// A frame larger than the limit (RFC 6455's "message too big").
    pub const TOO_BIG: u16 = 1009;
}

/// The two subprotocols, by their `Sec-WebSocket-Protocol` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `graphql-transport-ws` (graphql-ws).
    TransportWs,
    /// `graphql-ws` (subscriptions-transport-ws, legacy).
    Legacy,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::TransportWs => "graphql-transport-ws",
            Protocol::Legacy => "graphql-ws",
        }
    }

    /// The first protocol of the client's list that the server speaks.
    pub fn choose<'a>(offered: impl IntoIterator<Item = &'a str>) -> Option<Protocol> {
        offered.into_iter().flat_map(|v| v.split(',')).map(str::trim).find_map(|p| {
            if p.eq_ignore_ascii_case("graphql-transport-ws") {
                Some(Protocol::TransportWs)
            } else if p.eq_ignore_ascii_case("graphql-ws") {
                Some(Protocol::Legacy)
            } else {
                None
            }
        })
    }
}

/// The websocket settings and the count of operations each client has running, shared by all
/// workers (in [`AppState`]).
#[derive(Debug)]
pub struct WsLimits {
    pub config: WsConfig,
    running: Mutex<HashMap<Client, usize>>,
}

/// Whom the per-client limit counts: a token's name, or the peer's address without a token;
/// the same key as the rate limit's.
use crate::http::ClientKey as Client;

impl WsLimits {
    pub fn new(config: WsConfig) -> WsLimits {
        WsLimits { config, running: Mutex::new(HashMap::new()) }
    }

    /// Operations running over all sockets.
    pub fn running(&self) -> usize {
        self.counts().values().sum()
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, HashMap<Client, usize>> {
        // A panic while the map was held cannot leave a count half changed.
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place for one more operation of `client`, or `None` if it has as many as it may.
    fn acquire(self: &Arc<Self>, client: &Client) -> Option<Slot> {
        let mut counts = self.counts();
        let n = counts.entry(client.clone()).or_insert(0);
        if *n >= self.config.max_subscriptions_per_client {
            return None;
        }
        *n += 1;
        Some(Slot { limits: self.clone(), client: client.clone() })
    }
}

/// One running operation's place in its client's count, given back when dropped.
struct Slot {
    limits: Arc<WsLimits>,
    client: Client,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.limits.counts();
        if let Some(n) = counts.get_mut(&self.client) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.client);
            }
        }
    }
}

/// Upgrades a request to a websocket and serves it. `header_caller` is the caller named by the
/// upgrade request's `Authorization` header (already checked: a bad token there gets a 401
/// instead of a socket).
pub fn start(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    header_caller: Option<Caller>,
) -> actix_web::Result<HttpResponse> {
    let offered = req.headers().get_all(header::SEC_WEBSOCKET_PROTOCOL).filter_map(|v| v.to_str().ok());
    let protocol = Protocol::choose(offered);
    let (mut response, session, messages) = actix_ws::handle(req, payload)?;
    if let Some(p) = protocol {
        response.headers_mut().insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(p.name()));
    }
    let limits = state.ws.clone();
    let max = limits.config.max_message_bytes;
    let messages = messages.max_frame_size(max).aggregate_continuations().max_continuation_size(max);
    let (events, events_rx) = mpsc::channel(16);
    let connection = Connection {
        state: state.clone(),
        limits,
        protocol,
        header_caller,
        peer: req.peer_addr().map(|a| a.ip()),
        init: None,
        ops: HashMap::new(),
        serial: 0,
        events,
    };
    actix_web::rt::spawn(connection.run(session, messages, events_rx));
    Ok(response)
}

/// One socket.
struct Connection {
    state: AppState,
    limits: Arc<WsLimits>,
    /// `None`: the client asked for neither protocol, and the socket is closed at once.
    protocol: Option<Protocol>,
    header_caller: Option<Caller>,
    peer: Option<IpAddr>,
    /// Set by `connection_init`.
    init: Option<Init>,
    /// The operations running, by the client's ID.
    ops: HashMap<String, Op>,
    /// Numbers operations, so that what a finished operation sent is not taken for what a new
    /// one with the same ID sends.
    serial: u64,
    events: mpsc::Sender<Event>,
}

struct Init {
    caller: Option<Caller>,
    client: Client,
}

struct Op {
    serial: u64,
    task: tokio::task::JoinHandle<()>,
    _slot: Slot,
}

/// A message an operation wants sent.
struct Event {
    id: String,
    serial: u64,
    text: String,
    /// The operation's last message: it is done once this is sent.
    last: bool,
}

/// Why a socket ends.
enum End {
    /// Close it with this code and reason.
    Close(u16, String),
    /// The client is gone or does not read: there is no one to send a close frame to.
    Gone,
}

impl End {
    fn bad(reason: impl Into<String>) -> End {
        End::Close(close::BAD_REQUEST, reason.into())
    }
}

impl From<actix_ws::Closed> for End {
    fn from(_: actix_ws::Closed) -> End {
        End::Gone
    }
}

/// A close frame's reason is at most 123 bytes (a control frame carries 125, two are the code).
fn close_reason(code: u16, reason: &str) -> CloseReason {
    let mut cut = reason.len().min(123);
    while !reason.is_char_boundary(cut) {
        cut -= 1;
    }
    CloseReason { code: CloseCode::from(code), description: Some(reason[..cut].to_string()) }
}

impl Connection {
    async fn run(
        mut self,
        mut session: Session,
        mut messages: AggregatedMessageStream,
        mut events: mpsc::Receiver<Event>,
    ) {
        let end = self.serve(&mut session, &mut messages, &mut events).await;
        for (_, op) in self.ops.drain() {
            op.task.abort();
        }
        let send_timeout = self.send_timeout();
        if let End::Close(code, reason) = end {
            // Mostly a client's doing: not worth more than a debug line.
            tracing::debug!(code, reason = %reason, "closing a websocket");
            if self.protocol == Some(Protocol::Legacy) && code >= 4000 {
                // The legacy protocol tells a client why in a message before closing.
                let msg = json!({ "type": "connection_error", "payload": { "message": reason } }).to_string();
                let _ = tokio::time::timeout(send_timeout, session.text(msg)).await;
            }
            let _ = tokio::time::timeout(send_timeout, session.close(Some(close_reason(code, &reason)))).await;
        }
    }

    /// How long a send may wait for room: longer means the client does not read.
    fn send_timeout(&self) -> Duration {
        (self.limits.config.ping_interval * 2).max(Duration::from_secs(1))
    }

    async fn send(&self, session: &mut Session, text: String) -> Result<(), End> {
        match tokio::time::timeout(self.send_timeout(), session.text(text)).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(End::Gone),
        }
    }

    async fn serve(
        &mut self,
        session: &mut Session,
        messages: &mut AggregatedMessageStream,
        events: &mut mpsc::Receiver<Event>,
    ) -> End {
        let Some(protocol) = self.protocol else {
            return End::Close(close::SUBPROTOCOL_NOT_ACCEPTABLE, "Subprotocol not acceptable".into());
        };
        let config = self.limits.config.clone();
        let init_timer = tokio::time::sleep(config.init_timeout);
        tokio::pin!(init_timer);
        let mut pings = tokio::time::interval_at(Instant::now() + config.ping_interval, config.ping_interval);
        pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut heard = Instant::now();
        let mut pinged: Option<Instant> = None;
        loop {
            let step = tokio::select! {
                msg = messages.recv() => {
                    heard = Instant::now();
                    self.on_message(session, protocol, msg).await
                }
                Some(event) = events.recv() => self.on_event(session, event).await,
                () = &mut init_timer, if self.init.is_none() => {
                    Err(End::Close(close::INIT_TIMEOUT, "Connection initialisation timeout".into()))
                }
                _ = pings.tick() => {
                    if pinged.is_some_and(|p| heard < p) {
                        Err(End::Close(CloseCode::Away.into(), "no answer to the server's ping".into()))
                    } else {
                        pinged = Some(Instant::now());
                        self.ping(session, protocol).await
                    }
                }
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    async fn ping(&self, session: &mut Session, protocol: Protocol) -> Result<(), End> {
        match tokio::time::timeout(self.send_timeout(), session.ping(b"")).await {
            Ok(r) => r?,
            Err(_) => return Err(End::Gone),
        }
        if protocol == Protocol::Legacy && self.init.is_some() {
            self.send(session, json!({ "type": "ka" }).to_string()).await?;
        }
        Ok(())
    }

    async fn on_message(
        &mut self,
        session: &mut Session,
        protocol: Protocol,
        msg: Option<Result<AggregatedMessage, ProtocolError>>,
    ) -> Result<(), End> {
        let max = self.limits.config.max_message_bytes;
        let text = match msg {
            None => return Err(End::Gone),
            Some(Err(ProtocolError::Overflow)) | Some(Err(ProtocolError::Io(_))) => {
                // An I/O error here is the continuation limit (or the connection failing, when
                // the close frame is not read anyway).
                return Err(End::Close(close::TOO_BIG, format!("a message may have at most {max} bytes")));
            }
            Some(Err(e)) => return Err(End::Close(CloseCode::Protocol.into(), e.to_string())),
            Some(Ok(AggregatedMessage::Text(t))) => t.to_string(),
            Some(Ok(AggregatedMessage::Binary(b))) => match String::from_utf8(b.to_vec()) {
                Ok(t) => t,
                Err(_) => return Err(End::bad("a message must be JSON text")),
            },
            Some(Ok(AggregatedMessage::Ping(b))) => {
                return match tokio::time::timeout(self.send_timeout(), session.pong(&b)).await {
                    Ok(r) => Ok(r?),
                    Err(_) => Err(End::Gone),
                };
            }
            Some(Ok(AggregatedMessage::Pong(_))) => return Ok(()),
            Some(Ok(AggregatedMessage::Close(reason))) => {
                let code = reason.map_or(CloseCode::Normal, |r| r.code);
                return Err(End::Close(code.into(), String::new()));
            }
        };
        self.on_text(session, protocol, &text).await
    }

    async fn on_text(&mut self, session: &mut Session, protocol: Protocol, text: &str) -> Result<(), End> {
        let msg: Value = serde_json::from_str(text).map_err(|e| End::bad(format!("the message is not JSON: {e}")))?;
        let Value::Object(mut msg) = msg else {
            return Err(End::bad("a message must be a JSON object"));
        };
        let ty = match msg.remove("type") {
            Some(Value::String(t)) => t,
            _ => return Err(End::bad("a message needs a `type`, a string")),
        };
        match (protocol, ty.as_str()) {
            (_, "connection_init") => {
                let payload = optional_object(&mut msg, "payload", "the payload of `connection_init`")?;
                self.on_init(session, protocol, payload).await
            }
            (_, "ping") => {
                let payload = optional_object(&mut msg, "payload", "the payload of `ping`")?;
                let pong = match payload {
                    Some(p) => json!({ "type": "pong", "payload": p }),
                    None => json!({ "type": "pong" }),
                };
                self.send(session, pong.to_string()).await
            }
            (_, "pong") => optional_object(&mut msg, "payload", "the payload of `pong`").map(|_| ()),
            (Protocol::TransportWs, "subscribe") | (Protocol::Legacy, "start") => {
                self.on_subscribe(session, protocol, &ty, msg).await
            }
            (Protocol::TransportWs, "complete") | (Protocol::Legacy, "stop") => {
                let id = message_id(&msg, &ty)?;
                if let Some(op) = self.ops.remove(&id) {
                    op.task.abort();
                    // The legacy protocol confirms a stop; graphql-transport-ws sends nothing more.
                    if protocol == Protocol::Legacy {
                        self.send(session, json!({ "id": id, "type": "complete" }).to_string()).await?;
                    }
                }
                Ok(())
            }
            (Protocol::Legacy, "connection_terminate") => Err(End::Close(CloseCode::Normal.into(), String::new())),
            (_, other) => {
                let other = shorten(other, 40);
                Err(End::bad(format!("unexpected message of type `{other}`")))
            }
        }
    }

    async fn on_init(
        &mut self,
        session: &mut Session,
        protocol: Protocol,
        payload: Option<Map<String, Value>>,
    ) -> Result<(), End> {
        if self.init.is_some() {
            return Err(End::Close(close::TOO_MANY_INIT, "Too many initialisation requests".into()));
        }
        let forbidden = |why: &str| End::Close(close::FORBIDDEN, format!("Forbidden: {why}"));
        let authorization = payload.as_ref().and_then(|p| p.get("Authorization").or_else(|| p.get("authorization")));
        let caller = match authorization {
            None | Some(Value::Null) => self.header_caller.clone(),
            Some(Value::String(value)) => {
                let Some(secret) = http::bearer_secret(value) else {
                    return Err(forbidden("`Authorization` must be `Bearer <token>`"));
                };
                match self.state.service.authenticate(secret).await {
                    Ok(Some(c)) => Some(c),
                    Ok(None) => return Err(forbidden("the bearer token is not valid (unknown or revoked)")),
                    Err(e) => {
                        tracing::error!(error = %e, "token look-up failed");
                        return Err(End::Close(close::INTERNAL, "Internal server error".into()));
                    }
                }
            }
            Some(_) => return Err(End::bad("`Authorization` in `connection_init` must be a string")),
        };
        if self.state.private_reads && caller.is_none() {
            return Err(forbidden("this server needs a bearer token"));
        }
        let client = match &caller {
            Some(c) => Client::Token(c.name.clone()),
            None => Client::Peer(self.peer),
        };
        self.init = Some(Init { caller, client });
        self.send(session, json!({ "type": "connection_ack" }).to_string()).await?;
        if protocol == Protocol::Legacy {
            self.send(session, json!({ "type": "ka" }).to_string()).await?;
        }
        Ok(())
    }

    async fn on_subscribe(
        &mut self,
        session: &mut Session,
        protocol: Protocol,
        ty: &str,
        mut msg: Map<String, Value>,
    ) -> Result<(), End> {
        let id = message_id(&msg, ty)?;
        let Some(Value::Object(mut payload)) = msg.remove("payload") else {
            return Err(End::bad(format!("`{ty}` needs a `payload`, an object")));
        };
        let query = match payload.remove("query") {
            Some(Value::String(q)) => q,
            _ => return Err(End::bad(format!("`{ty}` needs a `payload.query`, a string"))),
        };
        let operation_name = match payload.remove("operationName") {
            None | Some(Value::Null) => None,
            Some(Value::String(n)) => Some(n),
            Some(_) => return Err(End::bad("`payload.operationName` must be a string or null")),
        };
        let variables = optional_object(&mut payload, "variables", "payload.variables")?;
        let extensions = optional_object(&mut payload, "extensions", "payload.extensions")?;

        let Some(init) = &self.init else {
            return Err(End::Close(close::UNAUTHORIZED, "Unauthorized".into()));
        };
        if self.ops.contains_key(&id) {
            match protocol {
                Protocol::TransportWs => {
                    let reason = format!("Subscriber for {} already exists", shorten(&id, 80));
                    return Err(End::Close(close::SUBSCRIBER_EXISTS, reason));
                }
                // The legacy protocol replaces the operation.
                Protocol::Legacy => {
                    if let Some(op) = self.ops.remove(&id) {
                        op.task.abort();
                    }
                }
            }
        }
        let config = &self.limits.config;
        if self.ops.len() >= config.max_subscriptions_per_socket {
            let message = format!(
                "this socket already runs {} operations, the most one socket may; complete one first",
                self.ops.len()
            );
            return self.refuse(session, protocol, &id, message).await;
        }
        let Some(slot) = self.limits.acquire(&init.client) else {
            let message = format!(
                "this client already runs {} operations over its sockets, the most one client may; complete one first",
                config.max_subscriptions_per_client
            );
            return self.refuse(session, protocol, &id, message).await;
        };

        let doc = match self.state.documents.get(&query) {
            Some(doc) => doc,
            None => match async_graphql::parser::parse_query(&query) {
                Ok(doc) => {
                    let doc = crate::cache::Parsed::new(doc);
                    self.state.documents.put(&query, doc.clone());
                    doc
                }
                Err(e) => {
                    // Charged like a refusal over HTTP: one point.
                    if let Some(Err(budget)) = self.state.limiter.charge(&init.client, 1) {
                        return self.refuse_rate(session, protocol, &id, &budget, 1).await;
                    }
                    http::count_errors([code::PARSE_FAILED]);
                    let text = error_message(protocol, &id, vec![http::parse_error(&query, e)]);
                    return self.send(session, text).await;
                }
            },
        };
        let kind = http::operation_type(&doc, operation_name.as_deref());
        // The operation spends its client's budget, the one its HTTP requests spend; a
        // subscription is charged once, when it starts.
        let budget = if self.state.limiter.enabled() {
            let model = crate::api::limits::CostModel::for_graph(self.state.service.stats(), self.state.schema_size);
            let vars =
                variables.clone().map(|v| async_graphql::Variables::from_json(Value::Object(v))).unwrap_or_default();
            let cost = crate::api::limits::operation_cost(&doc, operation_name.as_deref(), &vars, &model);
            let points = crate::http::rate_limit::points_for(cost, crate::api::limits::MAX_COST);
            match self.state.limiter.charge(&init.client, points) {
                Some(Ok(b)) => Some(crate::api::ratelimit::ClientBudget {
                    cost: points,
                    limit: b.limit,
                    used: b.used,
                    reset_epoch: b.reset_epoch,
                    read: Default::default(),
                }),
                Some(Err(budget)) => return self.refuse_rate(session, protocol, &id, &budget, points).await,
                None => None,
            }
        } else {
            None
        };
        let mut request = async_graphql::Request::new(query);
        if let Some(name) = operation_name {
            request = request.operation_name(name);
        }
        if let Some(vars) = variables {
            request = request.variables(async_graphql::Variables::from_json(Value::Object(vars)));
        }
        for (k, v) in extensions.unwrap_or_default() {
            if let Ok(v) = async_graphql::Value::from_json(v) {
                request.extensions.insert(k, v);
            }
        }
        request.set_parsed_query(doc.doc.clone());
        if let Some(c) = &init.caller {
            request = request.data(c.clone());
        }
        if let Some(b) = budget {
            request = request.data(b);
        }

        self.serial += 1;
        let out = Outbox { id: id.clone(), serial: self.serial, protocol, events: self.events.clone() };
        // On the executor, like an HTTP request's execution: the worker only moves messages.
        let task = self.state.executor.spawn(run_operation(self.state.clone(), kind, request, out));
        self.ops.insert(id, Op { serial: self.serial, task, _slot: slot });
        Ok(())
    }

    /// Refuses an operation past its client's rate limit with an `error` message
    /// (`RATE_LIMITED`, with when the budget is whole again); the socket stays open.
    async fn refuse_rate(
        &self,
        session: &mut Session,
        protocol: Protocol,
        id: &str,
        budget: &crate::http::Budget,
        points: u64,
    ) -> Result<(), End> {
        let error = http::rate_limit_error(budget, self.state.limiter.window(), points);
        self.send(session, error_message(protocol, id, vec![error])).await
    }

    /// Refuses an operation with an `error` message; the socket stays open.
    async fn refuse(&self, session: &mut Session, protocol: Protocol, id: &str, message: String) -> Result<(), End> {
        http::count_errors([code::TOO_MANY_SUBSCRIPTIONS]);
        let error = json!({ "message": message, "extensions": { "code": code::TOO_MANY_SUBSCRIPTIONS } });
        self.send(session, error_message(protocol, id, vec![error])).await
    }

    /// Sends what an operation sent, unless the operation was completed (or replaced) since.
    async fn on_event(&mut self, session: &mut Session, event: Event) -> Result<(), End> {
        if self.ops.get(&event.id).is_none_or(|op| op.serial != event.serial) {
            return Ok(());
        }
        if event.last {
            self.ops.remove(&event.id);
        }
        self.send(session, event.text).await
    }
}

/// Where an operation's messages go.
struct Outbox {
    id: String,
    serial: u64,
    protocol: Protocol,
    events: mpsc::Sender<Event>,
}

impl Outbox {
    /// `false` if the socket is gone.
    async fn send(&self, text: String, last: bool) -> bool {
        let event = Event { id: self.id.clone(), serial: self.serial, text, last };
        self.events.send(event).await.is_ok()
    }

    async fn next(&self, payload: Value) -> bool {
        let ty = match self.protocol {
            Protocol::TransportWs => "next",
            Protocol::Legacy => "data",
        };
        self.send(json!({ "id": self.id, "type": ty, "payload": payload }).to_string(), false).await
    }

    async fn complete(&self) -> bool {
        self.send(json!({ "id": self.id, "type": "complete" }).to_string(), true).await
    }

    async fn error(&self, errors: Vec<Value>) -> bool {
        self.send(error_message(self.protocol, &self.id, errors), true).await
    }

    /// A single result: `error` if it failed before execution, else `next` and `complete`.
    async fn single(&self, response: async_graphql::Response, executed: bool) {
        match shape(response, Phase::Single { executed }) {
            Err(errors) => {
                self.error(errors).await;
            }
            Ok(body) => {
                if self.next(body).await {
                    self.complete().await;
                }
            }
        }
    }
}

/// Runs one operation: a query under the request time limit, a mutation to its end, a
/// subscription until its stream ends or the client completes it (which aborts this task).
async fn run_operation(state: AppState, kind: Option<OperationType>, request: async_graphql::Request, out: Outbox) {
    let started = ExecutionStarted::default();
    let request = request.data(started.clone());
    match kind {
        Some(OperationType::Query) => {
            let limit = state.request_timeout;
            let deadline = Instant::now() + limit;
            let run = async {
                // Like over HTTP: one consistent view for the whole query.
                let view = state.service.read().await;
                let time_limit = TimeLimit { deadline: Deadline::at(deadline.into_std()), limit };
                state.schema.execute_stream(request.data(view).data(time_limit)).next().await
            };
            let response = match tokio::time::timeout_at(deadline, run).await {
                Ok(Some(r)) => r,
                Ok(None) => async_graphql::Response::default(),
                Err(_) => {
                    let e = crate::api::work::timed_out(limit);
                    let mut error = async_graphql::ServerError::new(e.message, None);
                    error.extensions = e.extensions;
                    async_graphql::Response::from_errors(vec![error])
                }
            };
            out.single(response, started.get()).await;
        }
        Some(OperationType::Subscription) => {
            let mut stream = state.schema.execute_stream(request);
            let mut phase = Phase::FirstEvent;
            while let Some(response) = stream.next().await {
                match shape(response, phase) {
                    Err(errors) => {
                        out.error(errors).await;
                        return;
                    }
                    Ok(body) => {
                        if !out.next(body).await {
                            return;
                        }
                    }
                }
                phase = Phase::LaterEvent;
            }
            out.complete().await;
        }
        // A mutation is not cut off (a write that committed cannot be taken back by a timer);
        // an operation name that names none fails validation.
        Some(OperationType::Mutation) | None => {
            let response = state.schema.execute_stream(request).next().await.unwrap_or_default();
            out.single(response, started.get()).await;
        }
    }
}

/// Where in its operation a response stands, for telling a failure before execution.
#[derive(Clone, Copy)]
enum Phase {
    /// The result of a query or mutation, and whether it reached execution
    /// ([`ExecutionStarted`]).
    Single { executed: bool },
    /// The first response of a subscription. Its execution does not pass the
    /// [`ExecutionStarted`] mark (async-graphql runs no `execute` hook for a subscription), so it
    /// is taken as a failure before execution when it has no data and none of its errors has a
    /// path: parse, validation and cost errors have none, while the errors of the subscription's
    /// own resolver (and of its events) carry its field.
    FirstEvent,
    /// Any later response of a subscription: it ran.
    LaterEvent,
}

/// A response as the client gets it, with the bounds and codes of an HTTP answer; or its errors
/// alone if it failed before execution.
fn shape(response: async_graphql::Response, phase: Phase) -> Result<Value, Vec<Value>> {
    let failed = !response.errors.is_empty() && response.data == async_graphql::Value::Null;
    let before = failed
        && match phase {
            Phase::Single { executed } => !executed,
            Phase::FirstEvent => response.errors.iter().all(|e| e.path.is_empty()),
            Phase::LaterEvent => false,
        };
    let mut body = serde_json::to_value(&response).unwrap_or_else(|_| json!({}));
    if let Some(errors) = body.get_mut("errors").and_then(Value::as_array_mut) {
        http::bound_errors(errors);
        for e in errors.iter_mut() {
            if e.pointer("/extensions/code").is_none() {
                let c = if before { code::VALIDATION_FAILED } else { code::BAD_USER_INPUT };
                if let Some(o) = e.as_object_mut() {
                    let ext = o.entry("extensions").or_insert_with(|| json!({}));
                    if let Some(x) = ext.as_object_mut() {
                        x.insert("code".into(), json!(c));
                    }
                }
            }
        }
        http::count_errors(errors.iter().filter_map(|e| e.pointer("/extensions/code").and_then(Value::as_str)));
        if before {
            return Err(std::mem::take(errors));
        }
    }
    Ok(body)
}

/// An `error` message: graphql-transport-ws sends the list of errors; the legacy protocol one
/// error object (its first).
fn error_message(protocol: Protocol, id: &str, mut errors: Vec<Value>) -> String {
    let payload = match protocol {
        Protocol::TransportWs => Value::Array(errors),
        Protocol::Legacy => {
            if errors.is_empty() {
                json!({ "message": "the operation failed" })
            } else {
                errors.swap_remove(0)
            }
        }
    };
    json!({ "id": id, "type": "error", "payload": payload }).to_string()
}

/// A message's `id`, a non-empty string.
fn message_id(msg: &Map<String, Value>, ty: &str) -> Result<String, End> {
    match msg.get("id") {
        Some(Value::String(id)) if !id.is_empty() => Ok(id.clone()),
        _ => Err(End::bad(format!("`{}` needs an `id`, a non-empty string", shorten(ty, 40)))),
    }
}

/// Takes `key` out of `obj`: an object, or nothing (absent or null); anything else is a bad
/// message (`what` names it).
fn optional_object(obj: &mut Map<String, Value>, key: &str, what: &str) -> Result<Option<Map<String, Value>>, End> {
    match obj.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(End::bad(format!("`{what}` must be an object or null"))),
    }
}

fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_known_protocol_of_the_client_wins() {
        assert_eq!(Protocol::choose(["graphql-transport-ws"]), Some(Protocol::TransportWs));
        assert_eq!(Protocol::choose(["foo, graphql-ws", "graphql-transport-ws"]), Some(Protocol::Legacy));
        assert_eq!(Protocol::choose(["foo"]), None);
        assert_eq!(Protocol::choose([]), None);
    }

    #[test]
    fn close_reasons_fit_a_control_frame() {
        let long = "é".repeat(200);
        let r = close_reason(4409, &long);
        let d = r.description.unwrap();
        assert!(d.len() <= 123 && d.chars().all(|c| c == 'é'));
    }

    #[test]
    fn a_client_gets_back_its_slots() {
        let limits = Arc::new(WsLimits::new(WsConfig { max_subscriptions_per_client: 2, ..Default::default() }));
        let c = Client::Token("t".into());
        let a = limits.acquire(&c).unwrap();
        let b = limits.acquire(&c).unwrap();
        assert!(limits.acquire(&c).is_none());
        assert!(limits.acquire(&Client::Peer(None)).is_some());
        drop(a);
        assert_eq!(limits.running(), 1);
        let _c = limits.acquire(&c).unwrap();
        drop(b);
        assert_eq!(limits.running(), 1);
    }
}
