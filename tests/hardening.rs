//! The hardening regressions at the HTTP edge, each against the real server: a query's time
//! limit, a body's deadline, `413` before `100 Continue`, security headers, `HEAD`, the bearer
//! scheme in any case, bounded error lists and messages, and client mistakes kept out of the
//! error log. (Costs: `tests/limits.rs`; input bounds: `tests/input_bounds.rs`; websockets:
//! `tests/ws_protocol.rs`; the server under the worst of them at once: `tests/hostile.rs`.)

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::{error_codes, mini_seed, TestServer};
use policygraph::http::{HttpConfig, MAX_BODY_BYTES, MAX_ERRORS, MAX_MESSAGE_CHARS};
use policygraph::store::sled::SledStore;
use policygraph::store::Store;
use serde_json::{json, Value};

/// A server over a synthetic graph big enough that an unbounded path search runs for seconds.
async fn big_graph_server(config: HttpConfig) -> (tempfile::TempDir, TestServer, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let (entities, relations) = policygraph::synthetic::generate(20_000, 100_000, 11);
    let ids = entities.iter().map(|e| e.id.clone()).collect();
    {
        let store = SledStore::open(dir.path()).unwrap();
        store.import(&entities, &relations).await.unwrap();
        store.flush().await.unwrap();
    }
    let server = TestServer::start_with(dir.path(), None, config).await;
    (dir, server, ids)
}

/// Reads from a raw connection until `done` says the bytes so far are enough, the peer closes,
/// or `within` passes.
fn read_until(stream: &mut TcpStream, within: Duration, done: impl Fn(&str) -> bool) -> String {
    let until = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < until {
        stream.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if done(&String::from_utf8_lossy(&got)) {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

fn host_port(url: &str) -> &str {
    url.trim_start_matches("http://")
}

/// A search that would run for seconds is stopped at the time limit with `REQUEST_TIMEOUT`, and
/// its threads are free again at once: the next search gets a permit and answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_past_the_time_limit_is_stopped_and_frees_its_thread() {
    let limit = Duration::from_millis(300);
    let (_dir, s, ids) =
        big_graph_server(HttpConfig { workers: 1, request_timeout: limit, ..Default::default() }).await;
    let (from, to) = (&ids[1], &ids[ids.len() - 1]);
    // Both permits of a two-core machine taken by a long search each.
    let long = format!(
        r#"{{ a: paths(from: "{from}", to: "{to}", maxLength: 6, first: 1) {{ truncated }}
             b: paths(from: "{to}", to: "{from}", maxLength: 6, first: 1) {{ truncated }} }}"#
    );
    let started = Instant::now();
    let body = s.query(&long, json!({})).await;
    let took = started.elapsed();
    assert_eq!(error_codes(&body), vec!["REQUEST_TIMEOUT"], "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("300 ms"), "{body}");
    // Bounded, not fast: the answer comes at the limit, with room for a slow debug build.
    assert!(took < limit + Duration::from_secs(3), "the time-out answer took {took:?}");

    // Had the searches gone on running, this one would wait for a permit past its own limit.
    let next = s.query(&format!(r#"{{ shortestPath(from: "{from}", to: "{from}") {{ length }} }}"#), json!({})).await;
    assert_eq!(next["data"]["shortestPath"]["length"], 0, "{next}");
    assert!(next.get("errors").is_none(), "{next}");
    s.stop().await;
}

/// With the GraphQL media type a timed-out query is a 503 (nothing wrong with the request; the
/// server would not spend more on it), with plain JSON a 200 like every other error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_query_is_503_under_the_graphql_media_type() {
    let (_dir, s, ids) =
        big_graph_server(HttpConfig { workers: 1, request_timeout: Duration::from_millis(100), ..Default::default() })
            .await;
    let q = format!(r#"{{ paths(from: "{}", to: "{}", maxLength: 6, first: 1) {{ truncated }} }}"#, ids[2], ids[3]);
    let r = s
        .client
        .post(s.graphql_url())
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": q }))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(error_codes(&body), vec!["REQUEST_TIMEOUT"], "{body}");
    s.stop().await;
}

/// A body trickled a byte at a time is cut off at the body deadline with a 408 and the
/// connection is closed, instead of holding it open for as long as the client likes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_body_gets_408_at_the_body_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_with(
        dir.path(),
        Some(&mini_seed()),
        HttpConfig { workers: 1, body_timeout: Duration::from_secs(1), ..Default::default() },
    )
    .await;
    let addr = host_port(&s.url).to_string();
    let answer = tokio::task::spawn_blocking(move || {
        let mut c = TcpStream::connect(&addr).unwrap();
        let body = br#"{"query":"{ __typename }"}                                                  "#;
        write!(
            c,
            "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .unwrap();
        let started = Instant::now();
        let mut answer = String::new();
        for b in body.iter() {
            if c.write_all(&[*b]).is_err() {
                break;
            }
            let got = read_until(&mut c, Duration::from_millis(250), |_| true);
            if !got.is_empty() {
                answer = got + &read_until(&mut c, Duration::from_secs(1), |_| false);
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "still reading after 10 s");
        }
        (answer, started.elapsed())
    })
    .await
    .unwrap();
    let (answer, took) = answer;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("BODY_TIMEOUT"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("connection: close"), "{answer}");
    assert!(took < Duration::from_secs(5), "the body deadline of 1 s answered after {took:?}");
    s.stop().await;
}

/// `Expect: 100-continue` with a body past the limit is refused with 413 before the client
/// sends it; within the limit it gets `100 Continue`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expect_continue_past_the_limit_gets_413_not_100() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&mini_seed())).await;
    let addr = host_port(&s.url).to_string();
    let (big, small) = tokio::task::spawn_blocking(move || {
        let ask = |length: usize| {
            let mut c = TcpStream::connect(&addr).unwrap();
            write!(
                c,
                "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: {length}\r\n\r\n"
            )
            .unwrap();
            read_until(&mut c, Duration::from_secs(5), |got| got.contains("\r\n\r\n"))
        };
        (ask(MAX_BODY_BYTES * 40), ask(100))
    })
    .await
    .unwrap();
    assert!(big.starts_with("HTTP/1.1 413"), "{big}");
    assert!(!big.contains("100 Continue"), "{big}");
    assert!(small.starts_with("HTTP/1.1 100 Continue"), "{small}");
    s.stop().await;
}

/// The HTML pages forbid framing, sniffing and scripts from elsewhere; every answer says
/// `nosniff`. (That GraphiQL and /explore still work under the policy: the browser tests.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_pages_send_security_headers() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&mini_seed())).await;
    for page in ["/graphiql", "/explore"] {
        let r = s.client.get(format!("{}{page}", s.url)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{page}");
        let h = r.headers();
        let csp = h.get("content-security-policy").unwrap_or_else(|| panic!("{page}: no CSP")).to_str().unwrap();
        for directive in ["default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"] {
            assert!(csp.contains(directive), "{page}: CSP `{csp}` lacks `{directive}`");
        }
        assert!(!csp.contains("script-src 'self' 'unsafe-inline'"), "{page}: inline scripts allowed: {csp}");
        assert_eq!(h["x-frame-options"], "DENY", "{page}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{page}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{page}");
    }
    let r = s.client.post(s.graphql_url()).json(&json!({ "query": "{ __typename }" })).send().await.unwrap();
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    s.stop().await;
}

/// `HEAD` works wherever `GET` does, with the same status and headers and no body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_answers_where_get_does() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&mini_seed())).await;
    for path in ["/healthz", "/graphiql", "/explore", "/metrics", "/graphql?query=%7B__typename%7D"] {
        let get = s.client.get(format!("{}{path}", s.url)).send().await.unwrap();
        let head = s.client.head(format!("{}{path}", s.url)).send().await.unwrap();
        assert_eq!(head.status(), get.status(), "{path}");
        assert_eq!(head.status(), 200, "{path}");
        assert_eq!(head.headers().get("content-type"), get.headers().get("content-type"), "{path}");
        assert!(head.bytes().await.unwrap().is_empty(), "{path}: HEAD answered with a body");
    }
    s.stop().await;
}

/// The bearer scheme is case-insensitive (RFC 9110 §11.1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_scheme_is_accepted_in_any_case() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&mini_seed())).await;
    let secret = s.token("carla", policygraph::auth::Role::Editor).await;
    for (i, scheme) in ["bearer", "BEARER", "Bearer"].iter().enumerate() {
        let q = format!(
            r#"mutation {{ createEntity(input: {{ kind: PERSON, slug: "case-{i}", name: "Case {i}" }}) {{ entity {{ slug }} }} }}"#
        );
        let r = s
            .client
            .post(s.graphql_url())
            .header("authorization", format!("{scheme} {secret}"))
            .json(&json!({ "query": q }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{scheme}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["data"]["createEntity"]["entity"]["slug"], format!("case-{i}"), "{scheme}: {body}");
    }
    // A scheme that is not bearer is still refused.
    let r = s
        .client
        .post(s.graphql_url())
        .header("authorization", format!("Basic {secret}"))
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    s.stop().await;
}

/// 10,000 failing directives on one field give at most [`MAX_ERRORS`] errors, the last counting
/// the rest, not a megabyte of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_carries_at_most_max_errors() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&mini_seed())).await;
    let query = format!("{{ entities(first: 1) {} {{ totalCount }} }}", "@include(if: true) ".repeat(10_000));
    let r = s.client.post(s.graphql_url()).json(&json!({ "query": query })).send().await.unwrap();
    let bytes = r.bytes().await.unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), MAX_ERRORS, "{body}");
    let last = errors.last().unwrap();
    assert_eq!(last["extensions"]["code"], "TOO_MANY_ERRORS", "{last}");
    assert!(last["message"].as_str().unwrap().starts_with("9980 more error(s)"), "{last}");
    assert!(bytes.len() < 20_000, "{} bytes", bytes.len());
    s.stop().await;
}

/// A parse error says where and what was expected, and quotes a short excerpt, not the line
/// (which can be the whole document).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parse_error_quotes_only_a_short_excerpt() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path(), Some(&mini_seed())).await;
    let long_name = "x".repeat(50_000);
    let query = format!("{{ {long_name} ! }}");
    let body = s.query(&query, json!({})).await;
    assert_eq!(error_codes(&body), vec!["GRAPHQL_PARSE_FAILED"], "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.chars().count() <= MAX_MESSAGE_CHARS, "{} chars", message.chars().count());
    assert!(message.contains("line 1, column 50004"), "{message}");
    assert_eq!(body["errors"][0]["locations"][0]["column"], 50_004, "{body}");
    s.stop().await;
}

/// What a client gets wrong is not a server error: the real binary, sent a request that is not
/// HTTP, a bad query and bad JSON, writes no ERROR line and counts the broken request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_mistakes_are_not_logged_as_errors() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_policygraph"))
        .args(["serve", "--log-format", "json", "--bind", &format!("127.0.0.1:{port}"), "--data"])
        .arg(dir.path().join("data"))
        .arg("--seed-dir")
        .arg(mini_seed())
        .env_remove("RUST_LOG")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let until = Instant::now() + Duration::from_secs(60);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < until, "the server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let addr = format!("127.0.0.1:{port}");
    tokio::task::spawn_blocking(move || {
        for raw in [
            &b"GARBAGE\r\n\r\n"[..],
            &b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"[..],
            &b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{"[..],
        ] {
            let mut c = TcpStream::connect(&addr).unwrap();
            c.write_all(raw).unwrap();
            let _ = read_until(&mut c, Duration::from_millis(500), |got| got.contains("\r\n\r\n"));
        }
    })
    .await
    .unwrap();
    for body in [
        r#"{"query":"{ nope }"}"#,
        r#"{"query":"{ x"}"#,
        "{bad json",
        r#"{"query":"{ entity(slug: \"nobody\") { name } }"}"#,
    ] {
        let r =
            client.post(format!("{base}/graphql")).header("content-type", "application/json").body(body).send().await;
        assert!(r.is_ok(), "{body}");
    }
    let metrics = client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    let counted = metrics
        .lines()
        .find_map(|l| l.strip_prefix("http_client_stream_errors_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(counted >= 2.0, "broken requests not counted:\n{metrics}");

    child.start_kill().unwrap();
    let out = child.wait_with_output().await.unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("policygraph listening"), "{log}");
    let errors: Vec<&str> = log.lines().filter(|l| l.contains(r#""level":"ERROR""#)).collect();
    assert!(errors.is_empty(), "client mistakes logged at ERROR:\n{}", errors.join("\n"));
}
