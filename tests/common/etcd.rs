//! A 3-member etcd cluster on loopback ports over a temporary directory, for one test: started
//! by [`EtcdCluster::start`], killed when dropped (also when the test fails), and killed by the
//! kernel if the test process dies first.

use super::free_port;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct EtcdCluster {
    members: Vec<Member>,
    /// The members' client endpoints, `127.0.0.1:port`.
    pub endpoints: Vec<String>,
    dir: tempfile::TempDir,
}

struct Member {
    name: String,
    child: Option<Child>,
}

impl EtcdCluster {
    pub async fn start() -> EtcdCluster {
        let mut last_error = String::new();
        for _ in 0..3 {
            match EtcdCluster::try_start().await {
                Ok(cluster) => return cluster,
                Err(e) => last_error = e,
            }
        }
        panic!("no etcd cluster came up: {last_error}");
    }

    async fn try_start() -> Result<EtcdCluster, String> {
        if Command::new("etcd").arg("--version").stdout(Stdio::null()).status().is_err() {
            return Err("no `etcd` on PATH: run scripts/install-test-deps.sh (Debian's etcd-server)".into());
        }
        let dir = tempfile::tempdir().unwrap();
        let token = format!("pg-test-{}-{}", std::process::id(), dir.path().file_name().unwrap().to_string_lossy());
        let ports: Vec<(u16, u16)> = (0..3).map(|_| (free_port(), free_port())).collect();
        let initial_cluster: Vec<String> =
            ports.iter().enumerate().map(|(i, (_, peer))| format!("m{}=http://127.0.0.1:{peer}", i + 1)).collect();
        let mut cluster = EtcdCluster {
            members: Vec::new(),
            endpoints: ports.iter().map(|(client, _)| format!("127.0.0.1:{client}")).collect(),
            dir,
        };
        for (i, (client, peer)) in ports.iter().enumerate() {
            let name = format!("m{}", i + 1);
            let log = std::fs::File::create(cluster.dir.path().join(format!("{name}.log"))).unwrap();
            let mut command = Command::new("etcd");
            command
                .arg("--name")
                .arg(&name)
                .arg("--data-dir")
                .arg(cluster.dir.path().join(&name))
                .arg("--listen-client-urls")
                .arg(format!("http://127.0.0.1:{client}"))
                .arg("--advertise-client-urls")
                .arg(format!("http://127.0.0.1:{client}"))
                .arg("--listen-peer-urls")
                .arg(format!("http://127.0.0.1:{peer}"))
                .arg("--initial-advertise-peer-urls")
                .arg(format!("http://127.0.0.1:{peer}"))
                .arg("--initial-cluster")
                .arg(initial_cluster.join(","))
                .arg("--initial-cluster-token")
                .arg(&token)
                .arg("--initial-cluster-state")
                .arg("new")
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log);
            // SAFETY: prctl is async-signal-safe; the members die with the thread that started
            // them (the test's own), even when the test process is killed.
            unsafe {
                command.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            let child = command.spawn().map_err(|e| format!("starting etcd: {e}"))?;
            cluster.members.push(Member { name, child: Some(child) });
        }
        cluster.wait_healthy(Duration::from_secs(30)).await?;
        Ok(cluster)
    }

    /// Waits until every member answers a linearizable read (which needs a leader and a quorum).
    async fn wait_healthy(&mut self, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        for endpoint in self.endpoints.clone() {
            loop {
                let attempt = async {
                    let options = etcd_client::ConnectOptions::new()
                        .with_connect_timeout(Duration::from_millis(500))
                        .with_timeout(Duration::from_secs(2));
                    let mut client =
                        etcd_client::Client::connect([format!("http://{endpoint}")], Some(options)).await?;
                    client.get("health", None).await
                };
                match attempt.await {
                    Ok(_) => break,
                    Err(e) if Instant::now() > deadline => {
                        return Err(format!("member at {endpoint} not healthy: {e}\n{}", self.logs()));
                    }
                    Err(_) => {
                        if let Some(exited) = self.exited() {
                            return Err(format!("{exited}\n{}", self.logs()));
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }
        Ok(())
    }

    fn exited(&mut self) -> Option<String> {
        for m in &mut self.members {
            if let Some(Ok(Some(status))) = m.child.as_mut().map(|c| c.try_wait()) {
                return Some(format!("etcd member {} exited: {status}", m.name));
            }
        }
        None
    }

    /// The end of each member's log.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for m in &self.members {
            let log = std::fs::read_to_string(self.dir.path().join(format!("{}.log", m.name))).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            out.push_str(&format!("--- {} ---\n", m.name));
            for line in tail.into_iter().rev() {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// The `etcd://` location of a store under `prefix` in this cluster.
    pub fn location(&self, prefix: &str) -> String {
        format!("etcd://{}/{prefix}", self.endpoints.join(","))
    }

    /// The index of the member that leads now.
    pub async fn leader(&self) -> usize {
        for (i, endpoint) in self.endpoints.iter().enumerate() {
            let Ok(mut client) = etcd_client::Client::connect([format!("http://{endpoint}")], None).await else {
                continue;
            };
            if let Ok(status) = client.status().await {
                if status.header().is_some_and(|h| h.member_id() == status.leader()) {
                    return i;
                }
            }
        }
        panic!("no member leads\n{}", self.logs());
    }

    /// SIGKILLs member `i` (0-based).
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.members[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill(i);
        }
    }
}
