//! CORS at the HTTP level, against the real server: any origin may read, only the origins of
//! `--cors-origins` may send credentials and `Authorization`; preflights are answered before
//! routing and may be cached; the answers the handlers refuse with (400, 401, 405, 413, 415)
//! carry the headers too, or a browser would hide their reasons from the app; the websocket
//! upgrade is left alone; the security headers stay. What a browser makes of these headers is
//! `tests/browser_cors.rs`.

use crate::common::{mini_seed, TestServer};
use clap::Parser as _;
use policygraph::http::{CorsOrigins, HttpConfig, PREFLIGHT_MAX_AGE_SECS};
use reqwest::header::HeaderMap;
use reqwest::Method;

const APP: &str = "http://app.example";
const OTHER: &str = "http://elsewhere.example";

async fn server(origins: &str) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = HttpConfig { workers: 1, cors_origins: origins.parse().unwrap(), ..Default::default() };
    let s = TestServer::start_with(dir.path(), Some(&mini_seed()), config).await;
    (s, dir)
}

fn get<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).map(|v| v.to_str().unwrap())
}

/// The comma-separated values of a header, lower case, over all its lines.
fn list(h: &HeaderMap, name: &str) -> Vec<String> {
    h.get_all(name)
        .iter()
        .flat_map(|v| v.to_str().unwrap().split(',').map(|p| p.trim().to_ascii_lowercase()).collect::<Vec<_>>())
        .filter(|p| !p.is_empty())
        .collect()
}

async fn preflight(s: &TestServer, origin: &str, headers: &str) -> (u16, HeaderMap) {
    let res = s
        .client
        .request(Method::OPTIONS, s.graphql_url())
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", headers)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.headers().clone())
}

async fn post(s: &TestServer, origin: Option<&str>, token: Option<&str>, body: &str) -> (u16, HeaderMap) {
    let mut req = s.client.post(s.graphql_url()).header("content-type", "application/json").body(body.to_string());
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.headers().clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unlisted_origin_may_read_but_not_send_a_token() {
    let (s, _dir) = server(APP).await;
    let (status, h) = preflight(&s, OTHER, "content-type, authorization, x-apollo-operation-name").await;
    assert_eq!(status, 204, "{h:?}");
    assert_eq!(get(&h, "access-control-allow-origin"), Some("*"));
    assert_eq!(get(&h, "access-control-allow-credentials"), None);
    let allowed = list(&h, "access-control-allow-headers");
    assert!(allowed.contains(&"content-type".to_string()), "{allowed:?}");
    assert!(allowed.contains(&"x-apollo-operation-name".to_string()), "a client's own headers: {allowed:?}");
    assert!(!allowed.contains(&"authorization".to_string()), "{allowed:?}");
    assert!(list(&h, "access-control-allow-methods").contains(&"post".to_string()), "{h:?}");
    assert_eq!(get(&h, "access-control-max-age"), Some(PREFLIGHT_MAX_AGE_SECS.to_string().as_str()));

    let (status, h) = post(&s, Some(OTHER), None, r#"{"query":"{ __typename }"}"#).await;
    assert_eq!(status, 200);
    assert_eq!(get(&h, "access-control-allow-origin"), Some("*"));
    assert_eq!(get(&h, "access-control-allow-credentials"), None);
    // With a list, the answer depends on the origin: a shared cache must keep them apart.
    assert!(list(&h, "vary").contains(&"origin".to_string()), "{h:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listed_origin_gets_itself_credentials_and_authorization() {
    let (s, _dir) = server(&format!("http://other.example:8080, {APP}")).await;
    let (status, h) = preflight(&s, APP, "content-type, authorization").await;
    assert_eq!(status, 204, "{h:?}");
    assert_eq!(get(&h, "access-control-allow-origin"), Some(APP));
    assert_eq!(get(&h, "access-control-allow-credentials"), Some("true"));
    let allowed = list(&h, "access-control-allow-headers");
    assert!(allowed.contains(&"authorization".to_string()), "{allowed:?}");
    assert!(allowed.contains(&"content-type".to_string()), "{allowed:?}");
    assert!(list(&h, "vary").contains(&"origin".to_string()), "{h:?}");
    assert_eq!(get(&h, "access-control-max-age"), Some(PREFLIGHT_MAX_AGE_SECS.to_string().as_str()));

    let token = s.token("cors-editor", policygraph::auth::Role::Editor).await;
    let mutation = r#"{"query":"mutation { updateEntity(input: { id: \"exo\", summary: \"Set across origins.\" }) { entity { summary } } }"}"#;
    let (status, h) = post(&s, Some(APP), Some(&token), mutation).await;
    assert_eq!(status, 200);
    assert_eq!(get(&h, "access-control-allow-origin"), Some(APP));
    assert_eq!(get(&h, "access-control-allow-credentials"), Some("true"));
    assert!(list(&h, "vary").contains(&"origin".to_string()), "{h:?}");
    let exposed = list(&h, "access-control-expose-headers");
    for name in
        ["etag", "x-request-id", "www-authenticate", "x-ratelimit-remaining", "x-ratelimit-reset", "retry-after"]
    {
        assert!(exposed.contains(&name.to_string()), "{name} exposed: {exposed:?}");
    }
    let data = s.data(r#"{ entity(slug: "exo") { summary } }"#, serde_json::json!({})).await;
    assert_eq!(data["entity"]["summary"], "Set across origins.");

    // An origin matches exactly: another port, or another scheme, is another origin.
    for near in ["http://app.example:8080", "https://app.example", "http://other.example"] {
        let (_, h) = preflight(&s, near, "authorization").await;
        assert_eq!(get(&h, "access-control-allow-origin"), Some("*"), "{near}");
        assert!(!list(&h, "access-control-allow-headers").contains(&"authorization".to_string()), "{near}");
    }
    let (_, h) = preflight(&s, "http://other.example:8080", "authorization").await;
    assert_eq!(get(&h, "access-control-allow-origin"), Some("http://other.example:8080"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_list_every_origin_reads_and_none_sends_a_token() {
    let (s, _dir) = server("").await;
    let (status, h) = preflight(&s, APP, "content-type, authorization").await;
    assert_eq!(status, 204);
    assert_eq!(get(&h, "access-control-allow-origin"), Some("*"));
    assert_eq!(get(&h, "access-control-allow-credentials"), None);
    assert!(!list(&h, "access-control-allow-headers").contains(&"authorization".to_string()), "{h:?}");

    // The same answer for every origin and for none: nothing for a cache to tell apart.
    for origin in [Some(APP), None] {
        let (status, h) = post(&s, origin, None, r#"{"query":"{ __typename }"}"#).await;
        assert_eq!(status, 200);
        assert_eq!(get(&h, "access-control-allow-origin"), Some("*"), "{origin:?}");
        assert!(!list(&h, "vary").contains(&"origin".to_string()), "{h:?}");
    }
    // A GET answer's ETag is what an app revalidates with: it must be readable.
    let res =
        s.client.get(format!("{}?query=%7B__typename%7D", s.graphql_url())).header("origin", APP).send().await.unwrap();
    assert!(res.headers().contains_key("etag"));
    assert!(list(res.headers(), "access-control-expose-headers").contains(&"etag".to_string()));
    s.stop().await;
}

/// A browser hides an answer without CORS headers from the script entirely: the app would see
/// a network error instead of the reason it was refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_carry_the_headers_too() {
    let (s, _dir) = server(APP).await;
    let big = format!(r#"{{"query":"{{ __typename }}","x":"{}"}}"#, "a".repeat(policygraph::http::MAX_BODY_BYTES));
    let cases: Vec<(&str, u16, (u16, HeaderMap))> = vec![
        ("bad JSON", 400, post(&s, Some(APP), None, "{").await),
        ("bad token", 401, post(&s, Some(APP), Some("not-a-token"), r#"{"query":"{ __typename }"}"#).await),
        ("too big", 413, post(&s, Some(APP), None, &big).await),
    ];
    for (what, want, (status, h)) in cases {
        assert_eq!(status, want, "{what}");
        assert_eq!(get(&h, "access-control-allow-origin"), Some(APP), "{what}: {h:?}");
        assert_eq!(get(&h, "access-control-allow-credentials"), Some("true"), "{what}");
    }
    let res = s.client.put(s.graphql_url()).header("origin", OTHER).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 405);
    assert_eq!(get(res.headers(), "access-control-allow-origin"), Some("*"));
    let res = s.client.post(s.graphql_url()).header("origin", OTHER).body("{}").send().await.unwrap();
    assert_eq!(res.status().as_u16(), 415);
    assert_eq!(get(res.headers(), "access-control-allow-origin"), Some("*"));
    s.stop().await;
}

/// Only `OPTIONS` with `Origin` and `Access-Control-Request-Method` is a preflight; a preflight
/// answer keeps the request ID and `nosniff`; pages are not the API and get no CORS headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflights_are_recognised_and_the_rest_is_unchanged() {
    let (s, _dir) = server(APP).await;
    let res = s.client.request(Method::OPTIONS, s.graphql_url()).header("origin", APP).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 405, "not a preflight: the handler answers");

    let (status, h) = preflight(&s, APP, "content-type").await;
    assert_eq!(status, 204);
    assert!(h.contains_key("x-request-id"), "{h:?}");
    assert_eq!(get(&h, "x-content-type-options"), Some("nosniff"));

    let res = s
        .client
        .request(Method::OPTIONS, format!("{}/export/graph.graphml", s.url))
        .header("origin", OTHER)
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 204, "the exports are the API too");
    assert_eq!(get(res.headers(), "access-control-allow-origin"), Some("*"));

    let res = s.client.get(format!("{}/graphiql", s.url)).header("origin", APP).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(get(res.headers(), "access-control-allow-origin"), None, "a page is not shared");
    assert!(res.headers().contains_key("content-security-policy"));
    s.stop().await;
}

/// Browsers apply no CORS to websockets; the upgrade's answer is what it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_websocket_upgrade_is_left_alone() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let (s, _dir) = server(APP).await;
    let mut req = format!("{}/graphql", s.url.replace("http://", "ws://")).into_client_request().unwrap();
    req.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
    req.headers_mut().insert("origin", APP.parse().unwrap());
    let (mut ws, res) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(res.status().as_u16(), 101);
    assert!(res.headers().get("access-control-allow-origin").is_none(), "{:?}", res.headers());
    ws.close(None).await.unwrap();
    s.stop().await;
}

#[test]
fn a_bad_origin_list_is_refused_with_the_reason_from_the_flag_or_the_environment() {
    let parse = |args: &[&str]| {
        policygraph::cli::Cli::try_parse_from(std::iter::once("policygraph").chain(args.iter().copied()))
    };
    let err = parse(&["--cors-origins", "https://app.example/index.html"]).unwrap_err().to_string();
    assert!(err.contains("--cors-origins"), "{err}");
    assert!(err.contains("`https://app.example/index.html` has a path"), "{err}");
    let err = parse(&["serve", "--cors-origins", "*"]).unwrap_err().to_string();
    assert!(err.contains("`*` cannot be listed"), "{err}");
    let err = parse(&["--cors-origins", "app.example"]).unwrap_err().to_string();
    assert!(err.contains("scheme://host[:port]"), "{err}");

    let ok = parse(&["--cors-origins", "https://App.example:443/,http://127.0.0.1:3000"]).unwrap();
    assert_eq!(ok.serve.cors_origins.origins(), ["https://app.example", "http://127.0.0.1:3000"]);
    assert!(parse(&[]).unwrap().serve.cors_origins.is_empty());
    assert_eq!(
        "http://a.example".parse::<CorsOrigins>().unwrap().origins(),
        ["http://a.example"],
        "the list type parses on its own too"
    );

    // The environment variable is read as the flag is. In this same test, after the checks
    // above, since it changes the process's environment.
    std::env::set_var("POLICYGRAPH_CORS_ORIGINS", "http://a.example, http://b.example:81");
    let cli = policygraph::cli::Cli::try_parse_from(["policygraph"]).unwrap();
    assert_eq!(cli.serve.cors_origins.origins(), ["http://a.example", "http://b.example:81"]);
    std::env::set_var("POLICYGRAPH_CORS_ORIGINS", "http://a.example/x");
    let err = policygraph::cli::Cli::try_parse_from(["policygraph"]).unwrap_err().to_string();
    assert!(err.contains("has a path"), "{err}");
    std::env::remove_var("POLICYGRAPH_CORS_ORIGINS");
}
