//! Test harness: the real actix app on a free port over a temporary sled store.
#![allow(dead_code)]

pub mod etcd;

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use policygraph::http::{self, HttpConfig};
use policygraph::seed;
use policygraph::service::Service;
use serde_json::{json, Value};

pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The small hand-made graph in `tests/fixtures/mini`.
pub fn mini_seed() -> PathBuf {
    repo_path("tests/fixtures/mini")
}

pub struct TestServer {
    pub url: String,
    pub service: Service,
    handle: actix_web::dev::ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    pub client: reqwest::Client,
}

impl TestServer {
    /// Opens (or reuses) the store in `data`, seeds it from `seed_dir` when empty, and serves.
    pub async fn start(data: &Path, seed_dir: Option<&Path>) -> TestServer {
        TestServer::start_with(data, seed_dir, HttpConfig { workers: 1, ..Default::default() }).await
    }

    /// Like [`TestServer::start`], without a rate limit: for tests that read the whole seed
    /// (every relation with its citations, every document's passages) from one address in a
    /// second or two, over a million cost points, the crawl the default budget (100,000 points
    /// a minute) is there to refuse. Every other test runs under the default budget.
    pub async fn start_crawler(data: &Path, seed_dir: Option<&Path>) -> TestServer {
        let rate_limit = http::RateLimitConfig { points: 0, ..Default::default() };
        TestServer::start_with(data, seed_dir, HttpConfig { workers: 1, rate_limit, ..Default::default() }).await
    }

    /// Like [`TestServer::start`], with the given server settings.
    pub async fn start_with(data: &Path, seed_dir: Option<&Path>, config: HttpConfig) -> TestServer {
        // After a stop, actix's worker threads may still be dropping their copies of the app
        // state (and with them sled's file lock) for a moment: retry briefly.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let service = loop {
            match Service::open(data).await {
                Ok(s) => break s,
                Err(e) if e.to_string().contains("lock") && std::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(e) => panic!("open store: {e}"),
            }
        };
        TestServer::serve(service, seed_dir, config).await
    }

    /// Serves a service over `store` (any backend), seeding it from `seed_dir` when empty; no
    /// index snapshot.
    pub async fn start_over(
        store: std::sync::Arc<dyn policygraph::store::Store>,
        seed_dir: Option<&Path>,
    ) -> TestServer {
        let service = Service::start(store, None, false).await.expect("the service starts");
        TestServer::serve(service, seed_dir, HttpConfig { workers: 1, ..Default::default() }).await
    }

    async fn serve(service: Service, seed_dir: Option<&Path>, config: HttpConfig) -> TestServer {
        if let Some(dir) = seed_dir {
            if service.store().is_empty().await.unwrap() {
                let d = seed::load(dir).expect("seed loads");
                service.seed(&d).await.expect("seed applies");
            }
        }
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = http::start(listener, service.clone(), &config).unwrap();
        let handle = server.handle();
        let task = tokio::spawn(server);
        TestServer { url: format!("http://127.0.0.1:{port}"), service, handle, task, client: reqwest::Client::new() }
    }

    /// Stops the server gracefully, flushes the store and writes the index snapshot, as
    /// SIGTERM does.
    pub async fn stop(self) {
        // The client's idle keep-alive connections would hold a graceful stop until they time
        // out (5 s): close them first, as a client going away does.
        drop(self.client);
        self.handle.stop(true).await;
        let _ = self.task.await;
        self.service.close().await.unwrap();
    }

    pub fn graphql_url(&self) -> String {
        format!("{}/graphql", self.url)
    }

    /// POSTs a query and returns the JSON body (whatever the status).
    pub async fn query(&self, query: &str, variables: Value) -> Value {
        self.client
            .post(self.graphql_url())
            .header("content-type", "application/json")
            .header("accept", "application/graphql-response+json")
            .body(json!({ "query": query, "variables": variables }).to_string())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// POSTs a query with a bearer token and returns the JSON body (whatever the status).
    pub async fn query_as(&self, token: &str, query: &str, variables: Value) -> Value {
        self.client
            .post(self.graphql_url())
            .header("content-type", "application/json")
            .header("accept", "application/graphql-response+json")
            .bearer_auth(token)
            .body(json!({ "query": query, "variables": variables }).to_string())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Creates a token in the server's store.
    pub async fn token(&self, name: &str, role: policygraph::auth::Role) -> String {
        policygraph::auth::create_token(self.service.store(), name, role).await.unwrap()
    }

    /// POSTs a query that must succeed; returns `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.query(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }
}

/// The `extensions.code` of each error of a response.
pub fn error_codes(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|es| es.iter().map(|e| e["extensions"]["code"].as_str().unwrap_or("<none>").to_string()).collect())
        .unwrap_or_default()
}

/// A port nobody listens on now (for a process the test starts; another process may take it
/// first, which a start that fails then reports).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Copies a directory tree (a seed to change one file of).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// POSTs a query to a server the test started as a process; `data`, or the whole body (or the
/// transport error) as text when it has errors. Bounded, so that a hung server fails the test
/// instead of stalling it.
pub async fn gql_at(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> Result<Value, String> {
    let mut req = client
        .post(format!("{url}/graphql"))
        .header("content-type", "application/json")
        .timeout(std::time::Duration::from_secs(20))
        .body(json!({ "query": query, "variables": variables }).to_string());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.map_err(|e| e.to_string())?;
    let body: Value = res.json().await.map_err(|e| e.to_string())?;
    if body.get("errors").is_some() {
        return Err(body.to_string());
    }
    Ok(body["data"].clone())
}

/// A websocket client connection.
pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text message as JSON, skipping pings, pongs and the legacy protocol's keep-alives
/// (`ka`); at most 10 s. A close fails the test with its frame.
pub async fn next_json(ws: &mut Ws) -> Value {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
            .await
            .expect("a message in time")
            .expect("the socket is open")
            .expect("a message");
        match msg {
            Message::Text(t) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["type"] != "ka" {
                    return v;
                }
            }
            Message::Close(c) => panic!("closed: {c:?}"),
            _ => {}
        }
    }
}

/// The example tabs of the GraphiQL page (`static/graphiql/init.js`), each as its query and
/// variables, read the way the page holds them: a query is an array of single-quoted lines
/// joined with line feeds, followed by its variables as one single-quoted JSON string.
pub fn graphiql_examples() -> Vec<(String, Value)> {
    let js = std::fs::read_to_string(repo_path("static/graphiql/init.js")).unwrap();
    let tabs = &js[js.find("var EXAMPLES").expect("the examples' list")..];
    let tabs = &tabs[..tabs.find("];\n").expect("the examples' list ends")];
    let mut out = Vec::new();
    let mut rest = tabs;
    while let Some(start) = rest.find("query: [") {
        let body = &rest[start..];
        let end = body.find("].join").expect("a query's lines end with a join");
        let query: String = body[..end]
            .lines()
            .filter_map(|l| l.trim().strip_prefix('\'').and_then(|l| l.trim_end_matches(',').strip_suffix('\'')))
            .map(|l| format!("{}\n", l.replace("\\'", "'")))
            .collect();
        let after = &body[end..];
        let next_tab = after.find("query: [").unwrap_or(after.len());
        let variables = match after[..next_tab].find("variables: '") {
            Some(v) => {
                let v = &after[v + "variables: '".len()..];
                serde_json::from_str(&v[..v.find('\'').unwrap()].replace("\\n", "\n")).expect("the tab's variables")
            }
            None => json!({}),
        };
        out.push((query, variables));
        rest = &body[end..];
    }
    out
}

/// The GraphQL queries of the README (mutations need a token and change the graph: left out).
pub fn readme_queries() -> Vec<String> {
    let readme = std::fs::read_to_string(repo_path("README.md")).unwrap();
    let mut out = Vec::new();
    let mut block: Option<String> = None;
    for line in readme.lines() {
        match (&mut block, line.trim_start()) {
            (None, l) if l.starts_with("```graphql") => block = Some(String::new()),
            (Some(b), l) if l.starts_with("```") => {
                let q = std::mem::take(b);
                let head = q.trim_start();
                if !head.starts_with("mutation") && !head.starts_with("subscription") {
                    out.push(q);
                }
                block = None;
            }
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            _ => {}
        }
    }
    out
}

/// A `policygraph serve` process, for the tests that need the real binary (a SIGKILL, several
/// processes over one store): on `127.0.0.1:port`, logging warnings only (errors to the test's
/// output), killed when dropped. `configure` adds the rest of the command line and environment.
pub fn spawn_serve(port: u16, configure: impl FnOnce(&mut tokio::process::Command)) -> tokio::process::Child {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_policygraph"));
    command
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true);
    configure(&mut command);
    command.spawn().expect("the server binary starts")
}

/// Waits until the server at `url` answers `/healthz` with 200 (ready), or fails the test after
/// `within`.
pub async fn wait_ready(url: &str, within: std::time::Duration) {
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Ok(r) = client.get(format!("{url}/healthz")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        assert!(std::time::Instant::now() < deadline, "the server on {url} did not become ready");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
