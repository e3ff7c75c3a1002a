//! Errors as clients see them: a message that names what is wrong and a stable
//! `extensions.code`. Every failure of the API layer goes through [`ApiError`].

use async_graphql::{Error, ErrorExtensions};

/// The codes a client can rely on, in `errors[].extensions.code`.
pub mod code {
    pub const NOT_FOUND: &str = "NOT_FOUND";
    /// The ID named a record that has been deleted (a merged one answers its survivor instead).
    pub const DELETED: &str = "DELETED";
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub const INTERNAL: &str = "INTERNAL_SERVER_ERROR";
    pub const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
    pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
    pub const TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const CONFLICT: &str = "CONFLICT";
    pub const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
    /// The request ran past its time limit and was stopped.
    pub const REQUEST_TIMEOUT: &str = "REQUEST_TIMEOUT";
    /// An answer had more errors than it carries; this entry counts the ones left out.
    pub const TOO_MANY_ERRORS: &str = "TOO_MANY_ERRORS";

    // The HTTP layer's own refusals, before any GraphQL is read.
    pub const BAD_REQUEST: &str = "BAD_REQUEST";
    pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
    pub const NOT_ACCEPTABLE: &str = "NOT_ACCEPTABLE";
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "UNSUPPORTED_MEDIA_TYPE";
    pub const PAYLOAD_TOO_LARGE: &str = "PAYLOAD_TOO_LARGE";
    /// The body did not arrive within the body time limit.
    pub const BODY_TIMEOUT: &str = "BODY_TIMEOUT";
    /// A websocket operation refused: the socket or the client runs as many as it may.
    pub const TOO_MANY_SUBSCRIPTIONS: &str = "TOO_MANY_SUBSCRIPTIONS";
    /// The client spent its budget of cost points for the window (HTTP 429 with `Retry-After`;
    /// over websocket an `error` message): `extensions.resetAt` says when it is whole again.
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{what} `{key}` does not exist")]
    NotFound { what: &'static str, key: String },
    #[error("{what} `{key}` was deleted at {at} (change seq {seq})")]
    Deleted { what: &'static str, key: String, seq: u64, at: String },
    #[error("argument `{argument}`: {message}")]
    BadInput { argument: &'static str, message: String },
    #[error("the request ran past its time limit of {limit_ms} ms and was stopped; ask for less (a shorter `maxLength`, fewer aliases, narrower filters)")]
    TimedOut { limit_ms: u64 },
    /// Something on our side; the details go to the log, not to the client.
    #[error("internal error; the server log has the details (request id in the `x-request-id` header)")]
    Internal(String),
}

impl ApiError {
    pub fn not_found(what: &'static str, key: impl Into<String>) -> Self {
        ApiError::NotFound { what, key: key.into() }
    }

    pub fn bad_input(argument: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadInput { argument, message: message.into() }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::NotFound { .. } => code::NOT_FOUND,
            ApiError::Deleted { .. } => code::DELETED,
            ApiError::BadInput { .. } => code::BAD_USER_INPUT,
            ApiError::TimedOut { .. } => code::REQUEST_TIMEOUT,
            ApiError::Internal(_) => code::INTERNAL,
        }
    }
}

impl ErrorExtensions for ApiError {
    fn extend(&self) -> Error {
        if let ApiError::Internal(detail) = self {
            tracing::error!(detail = %detail, "internal error while resolving a query");
        }
        let code = self.code();
        let argument = match self {
            ApiError::BadInput { argument, .. } => Some(*argument),
            _ => None,
        };
        Error::new(self.to_string()).extend_with(|_, e| {
            e.set("code", code);
            if let Some(a) = argument {
                e.set("argument", a);
            }
        })
    }
}
