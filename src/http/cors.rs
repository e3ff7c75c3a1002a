//! CORS on the API (`/graphql`, `/export/…`), so that an app served from another origin can
//! call it from a browser.
//!
//! Reads are public (unless `--private-reads`), as on public GraphQL APIs: any origin may read,
//! so every answer says `Access-Control-Allow-Origin: *`. A token is a different matter: a page
//! that can make a browser send one with its requests can act as its holder. So credentials
//! (`Access-Control-Allow-Credentials`) and the `Authorization` header are allowed only for the
//! origins listed with `--cors-origins`, which get their own origin echoed back. A `*` never
//! allows `Authorization` (the Fetch standard leaves it out of wildcards) and we do not list it
//! for other origins either, so a page elsewhere cannot send a token at all.
//!
//! The websocket upgrade on `/graphql` is left alone: browsers do not apply CORS to websockets.
//! The 413 that the `Expect: 100-continue` handler gives comes before the app and carries no
//! CORS headers; browsers do not send `Expect`.

use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::HttpResponse;

/// How long a browser may keep a preflight's answer. Chromium keeps one at most two hours,
/// Firefox a day; two hours is what both honour.
pub const PREFLIGHT_MAX_AGE_SECS: u32 = 7200;

/// What a script on another origin may read of an answer besides the safelisted headers: the
/// `ETag` to revalidate a GET, the request ID to report a problem with, the scheme a 401 asks
/// for, the client's rate limit and, past it, when to retry.
pub const EXPOSED_HEADERS: &str = "ETag, X-Request-Id, WWW-Authenticate, X-RateLimit-Limit, X-RateLimit-Remaining, \
X-RateLimit-Reset, X-RateLimit-Used, Retry-After";

/// The methods `/graphql` answers (HEAD needs no preflight).
const ALLOWED_METHODS: &str = "GET, POST";

/// The origins that may send credentials and `Authorization`, as browsers write them
/// (`scheme://host[:port]`, lower case, no default port). Empty: no origin may.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsOrigins(Vec<String>);

/// Why a `--cors-origins` list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorsOriginError {
    #[error("an empty entry in the origin list (a doubled comma, or one at an end)")]
    Empty,
    #[error(
        "`*` cannot be listed: every origin may already read; list the origins that may send tokens, \
         e.g. https://app.example.org"
    )]
    Wildcard,
    #[error("`{0}` is not an origin; write scheme://host[:port], e.g. https://app.example.org")]
    NotAnOrigin(String),
    #[error("`{0}`: only http:// and https:// origins can be listed")]
    Scheme(String),
    #[error("`{0}` has a path, query or fragment; an origin is scheme://host[:port] only")]
    Path(String),
    #[error("`{0}` has a bad port; a port is a number from 1 to 65535")]
    Port(String),
}

impl CorsOrigins {
    /// The listed origins, as browsers write them.
    pub fn origins(&self) -> &[String] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn contains(&self, origin: &[u8]) -> bool {
        self.0.iter().any(|o| o.as_bytes() == origin)
    }
}

impl std::str::FromStr for CorsOrigins {
    type Err = CorsOriginError;

    /// A comma-separated list. A blank string is an empty list (an environment variable set to
    /// nothing means no list).
    fn from_str(list: &str) -> Result<CorsOrigins, CorsOriginError> {
        if list.trim().is_empty() {
            return Ok(CorsOrigins::default());
        }
        let mut origins: Vec<String> = Vec::new();
        for entry in list.split(',') {
            let origin = parse_origin(entry.trim())?;
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        Ok(CorsOrigins(origins))
    }
}

/// One origin in the form a browser sends in `Origin`: the comparison is then byte for byte.
/// A trailing `/` is forgiven (it is what a copied address ends with); any other path is not,
/// since it would never match.
fn parse_origin(entry: &str) -> Result<String, CorsOriginError> {
    if entry.is_empty() {
        return Err(CorsOriginError::Empty);
    }
    if entry == "*" {
        return Err(CorsOriginError::Wildcard);
    }
    let not_an_origin = || CorsOriginError::NotAnOrigin(entry.to_string());
    let (scheme, rest) = entry.split_once("://").ok_or_else(not_an_origin)?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return Err(CorsOriginError::Scheme(entry.to_string())),
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['/', '?', '#']) {
        return Err(CorsOriginError::Path(entry.to_string()));
    }
    // Browsers send international names in punycode, and never user info.
    if rest.is_empty() || !rest.is_ascii() || rest.contains('@') {
        return Err(not_an_origin());
    }
    let (host, port) = match rest.strip_prefix('[') {
        Some(v6) => {
            let (addr, after) = v6.split_once(']').ok_or_else(not_an_origin)?;
            if addr.is_empty() || !addr.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.') {
                return Err(not_an_origin());
            }
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(not_an_origin)?),
            };
            (format!("[{}]", addr.to_ascii_lowercase()), port)
        }
        None => {
            let (host, port) = match rest.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            };
            if host.is_empty() || !host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
                return Err(not_an_origin());
            }
            (host.to_ascii_lowercase(), port)
        }
    };
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
            _ => return Err(CorsOriginError::Port(entry.to_string())),
        },
    };
    Ok(match port {
        Some(p) if p != default_port => format!("{scheme}://{host}:{p}"),
        _ => format!("{scheme}://{host}"),
    })
}

/// Whether CORS applies to a request at all: the API's paths, not the websocket upgrade.
pub(super) fn applies(path: &str, headers: &HeaderMap) -> bool {
    let api = path == "/graphql" || path.starts_with("/export/");
    let upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|p| p.trim().eq_ignore_ascii_case("websocket")));
    api && !upgrade
}

/// The answer to a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`), or
/// `None` when the request is not one.
pub(super) fn preflight(origins: &CorsOrigins, method: &Method, headers: &HeaderMap) -> Option<HttpResponse> {
    if method != Method::OPTIONS || !headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD) {
        return None;
    }
    let origin = headers.get(header::ORIGIN)?;
    let listed = origins.contains(origin.as_bytes());
    let mut res = HttpResponse::NoContent();
    res.insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, ALLOWED_METHODS))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, PREFLIGHT_MAX_AGE_SECS))
        .insert_header((header::VARY, "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"));
    if listed {
        res.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone()))
            .insert_header((header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"));
    } else {
        res.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"));
    }
    // The headers asked for are allowed (a client may send its own, like Apollo's), except that
    // only a listed origin gets `Authorization`.
    let asked = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS).and_then(|v| v.to_str().ok()).unwrap_or("");
    let allowed: Vec<String> = asked
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| HeaderName::from_bytes(h.as_bytes()).is_ok())
        .filter(|h| listed || h != "authorization")
        .collect();
    if !allowed.is_empty() {
        res.insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, allowed.join(", ")));
    }
    Some(res.finish())
}

/// The CORS headers of an answer to a request from `origin`.
/// With no list every answer is the same for every origin, so `*` goes on all of them and shared
/// caches need no `Vary`; with a list the answer depends on `Origin` and says so.
pub(super) fn add_headers(origins: &CorsOrigins, origin: Option<&HeaderValue>, response: &mut HeaderMap) {
    let listed = origin.filter(|o| origins.contains(o.as_bytes()));
    match listed {
        Some(origin) => {
            response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            response.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        }
        None => {
            response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        }
    }
    response.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED_HEADERS));
    if !origins.is_empty() {
        response.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Vec<String>, CorsOriginError> {
        s.parse::<CorsOrigins>().map(|o| o.0)
    }

    #[test]
    fn origins_are_written_as_browsers_send_them() {
        assert_eq!(
            parse(" HTTPS://App.Example.org:443/ , http://127.0.0.1:8081,http://[::1]:80").unwrap(),
            ["https://app.example.org", "http://127.0.0.1:8081", "http://[::1]"]
        );
        assert_eq!(parse("").unwrap(), Vec::<String>::new());
        assert_eq!(parse("http://a.example, http://a.example").unwrap(), ["http://a.example"]);
    }

    #[test]
    fn what_is_not_an_origin_is_refused() {
        assert_eq!(parse("*"), Err(CorsOriginError::Wildcard));
        assert_eq!(parse("http://a.example,,http://b.example"), Err(CorsOriginError::Empty));
        assert_eq!(parse("http://a.example,"), Err(CorsOriginError::Empty));
        assert_eq!(parse("app.example.org"), Err(CorsOriginError::NotAnOrigin("app.example.org".into())));
        assert_eq!(parse("ftp://a.example"), Err(CorsOriginError::Scheme("ftp://a.example".into())));
        assert_eq!(parse("https://a.example/app"), Err(CorsOriginError::Path("https://a.example/app".into())));
        assert_eq!(parse("https://a.example:0"), Err(CorsOriginError::Port("https://a.example:0".into())));
        assert_eq!(parse("https://a.example:99999"), Err(CorsOriginError::Port("https://a.example:99999".into())));
        assert_eq!(parse("https://a.example:+1"), Err(CorsOriginError::Port("https://a.example:+1".into())));
        assert_eq!(parse("https://u@a.example"), Err(CorsOriginError::NotAnOrigin("https://u@a.example".into())));
        assert_eq!(parse("https://a b"), Err(CorsOriginError::NotAnOrigin("https://a b".into())));
        assert_eq!(parse("https://[zz]"), Err(CorsOriginError::NotAnOrigin("https://[zz]".into())));
    }
}
