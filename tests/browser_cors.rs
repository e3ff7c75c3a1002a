//! CORS where it is enforced: in a real headless browser. An app's page is served from two other
//! loopback ports, one listed in `--cors-origins` and one not, and its script calls the API:
//! both may read; only the listed one can send a token (a mutation runs), with its preflight
//! cached; the browser blocks the unlisted one's token and credentials. The checks are in
//! `tests/browser/cors.mjs`; `tests/cors.rs` checks the headers themselves.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use crate::common::{mini_seed, repo_path, TestServer};
use policygraph::http::HttpConfig;

/// The app: a page whose script calls the API as an app on another origin would, with `fetch`.
const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>An app on another origin</title></head>
<body><script>
window.call = async (api, { method = 'POST', query, variables = {}, token = null, credentials = 'same-origin' }) => {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  let url = api;
  const init = { method, mode: 'cors', credentials, headers };
  if (method === 'GET') {
    url = `${api}?${new URLSearchParams({ query })}`;
  } else {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify({ query, variables });
  }
  try {
    const r = await fetch(url, init);
    return { status: r.status, body: await r.json(), requestId: r.headers.get('x-request-id'), etag: r.headers.get('etag') };
  } catch (e) {
    return { error: String(e) };
  }
};
document.body.dataset.ready = 'yes';
</script></body></html>
"#;

/// Serves [`PAGE`] for every request on `listener`, one connection at a time, until the test
/// process ends.
fn serve_page(listener: TcpListener) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{PAGE}",
                PAGE.len()
            );
        }
    });
}

fn page_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}/", listener.local_addr().unwrap().port());
    serve_page(listener);
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_another_origin_reads_and_only_a_listed_one_writes() {
    let listed = page_server();
    let unlisted = page_server();
    let dir = tempfile::tempdir().unwrap();
    let config =
        HttpConfig { workers: 1, cors_origins: listed.trim_end_matches('/').parse().unwrap(), ..Default::default() };
    let s = TestServer::start_with(dir.path(), Some(&mini_seed()), config).await;
    let token = s.token("cors-app", policygraph::auth::Role::Editor).await;
    let out = tokio::process::Command::new("node")
        .arg(repo_path("tests/browser/cors.mjs"))
        .args(["--api", &s.graphql_url()])
        .args(["--listed", &listed])
        .args(["--unlisted", &unlisted])
        .args(["--token", &token])
        .output()
        .await
        .expect("node runs (scripts/install-test-deps.sh installs what the browser tests need)");
    let log = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{log}");
    assert!(out.status.success(), "the CORS check in chromium failed:\n{log}");
    // The script's checks ran (a script that stopped early with exit 0 must not pass).
    assert!(
        log.contains("[ok   ] http://127.0.0.1") && log.contains("the browser blocks a request with Authorization"),
        "{log}"
    );
    s.stop().await;
}
