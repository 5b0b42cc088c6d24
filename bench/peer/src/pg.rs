//! A throwaway PostgreSQL 15 server (Debian's packages) for the peer.
//!
//! Invariant: the cluster lives in a temp directory, listens on 127.0.0.1
//! only (a free port, no Unix socket outside the temp dir), trusts local
//! connections, and is stopped (`pg_ctl stop -m immediate`) and removed when
//! the [`Postgres`] value is dropped. fsync stays on (the default): the
//! durability settings compared are per connection (`synchronous_commit`).
//! PostgreSQL refuses to run as root, so as root every server command runs
//! as the `postgres` user (`runuser`), which owns the temp directory.
//! A missing installation is a loud panic naming the fix, never a skip.
//! [`Postgres::start_with_standby`] adds a streaming standby (its own temp
//! cluster, `pg_basebackup`) that the primary waits for on every commit
//! (`synchronous_standby_names = '*'`), stopped and removed with it.
//! A bench killed before its drops run (a signal, an abort) leaves its
//! clusters running: each temp dir records the bench's pid (testkit's
//! `owned_dir`), and the next bench stops and removes those whose bench is
//! gone ([`reap_orphans`]) before it starts its own.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where Debian's PostgreSQL 15 server binaries live.
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// The role and database the bench connects as.
pub const USER: &str = "bench";
pub const DATABASE: &str = "postgres";

/// The temp-dir prefix of this module's clusters (primaries and standbys).
const PREFIX: &str = "peer-pg-";

/// Stop and remove the clusters of benches that are gone (testkit's
/// [`owned_dir`](perfledger_testkit::owned_dir)); once per process.
fn reap_orphans() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let reaped = perfledger_testkit::owned_dir::reap_orphans(PREFIX, |dir| {
            let data = dir.join("data");
            if data.join("postmaster.pid").exists() {
                let _ = server_command("pg_ctl", server_user())
                    .arg("-D")
                    .arg(&data)
                    .args(["-m", "immediate", "-w", "stop"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        });
        for dir in reaped {
            eprintln!(
                "bench-peer: stopped and removed {}, left by a bench that is gone",
                dir.display()
            );
        }
    });
}

/// The user the server binaries run as: `postgres` when we are root
/// (PostgreSQL refuses to run as root), else ourselves.
fn server_user() -> Option<&'static str> {
    is_root().then_some("postgres")
}

/// One of the server binaries, run as `run_as` when given.
fn server_command(bin: &str, run_as: Option<&str>) -> Command {
    let path = Path::new(PG_BIN).join(bin);
    match run_as {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--"]).arg(&path);
            c
        }
        None => Command::new(&path),
    }
}

/// One running PostgreSQL cluster.
pub struct Postgres {
    port: u16,
    data: PathBuf,
    log: PathBuf,
    run_as: Option<&'static str>,
    /// A synchronous standby streaming from this cluster (stopped first).
    standby: Option<Box<Postgres>>,
    _tmp: tempfile::TempDir,
}

fn is_root() -> bool {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

impl Postgres {
    /// initdb a cluster in a temp dir and start it on a free loopback port.
    pub fn start() -> Self {
        Self::start_primary("")
    }

    /// [`Postgres::start`] with a streaming standby that every commit waits
    /// for (at the level of the connection's `synchronous_commit`); returns
    /// once the standby streams as the synchronous one.
    pub fn start_with_standby() -> Self {
        // Quoted for the shell pg_ctl starts the server through.
        let mut primary = Self::start_primary("-c synchronous_standby_names='*'");
        let standby = Self::empty("peer-pg-standby-");
        primary.run(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &primary.port.to_string(),
                "-U",
                USER,
                "-D",
                standby.data.to_str().expect("utf-8 temp path"),
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
            ],
        );
        standby.start_server("");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let state =
                primary.query("SELECT string_agg(sync_state, ',') FROM pg_stat_replication");
            if state == "sync" {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the standby is not streaming synchronously after 30 s ({state:?}); its log:\n{}",
                std::fs::read_to_string(&standby.log).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        primary.standby = Some(Box::new(standby));
        primary
    }

    fn start_primary(extra: &str) -> Self {
        let pg = Self::empty("peer-pg-");
        pg.run(
            "initdb",
            &[
                "-D",
                pg.data.to_str().expect("utf-8 temp path"),
                "-U",
                USER,
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        pg.start_server(extra);
        pg
    }

    /// A cluster value on a temp dir (owned by `postgres` when we are
    /// root) and a free port; nothing initialised or started.
    fn empty(prefix: &str) -> Self {
        let initdb = Path::new(PG_BIN).join("initdb");
        assert!(
            initdb.is_file(),
            "{} not found: install PostgreSQL 15 (`apt-get install -y postgresql`; \
             scripts/bench-peer does this)",
            initdb.display()
        );
        assert!(prefix.starts_with(PREFIX), "{prefix} is not reaped");
        reap_orphans();
        let tmp = perfledger_testkit::owned_dir::owned_tempdir(prefix);
        let run_as = server_user();
        if let Some(user) = run_as {
            let status = Command::new("chown")
                .args(["-R", user])
                .arg(tmp.path())
                .status()
                .expect("run chown");
            assert!(status.success(), "chown the PostgreSQL temp dir to {user}");
        }
        let data = tmp.path().join("data");
        let log = tmp.path().join("server.log");
        Postgres {
            port: perfledger_testkit::free_port(),
            data,
            log,
            run_as,
            standby: None,
            _tmp: tmp,
        }
    }

    /// Start the server on its data dir, loopback only, with `extra`
    /// server options.
    fn start_server(&self, extra: &str) {
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c max_connections=200 {extra}",
            self.port,
            self.data.display()
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                self.data.to_str().expect("utf-8 temp path"),
                "-l",
                self.log.to_str().expect("utf-8 temp path"),
                "-o",
                &opts,
                "-w",
                "start",
            ],
        );
    }

    /// One SQL query's result, through psql (unaligned, tuples only).
    fn query(&self, sql: &str) -> String {
        let out = Command::new("psql")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", USER])
            .args(["-At", "-d", DATABASE, "-c", sql])
            .stdin(Stdio::null())
            .output()
            .expect("run psql (Debian's postgresql-client)");
        assert!(
            out.status.success(),
            "psql {sql:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// One of the server binaries, to run as `postgres` when we are root.
    fn command(&self, bin: &str) -> Command {
        server_command(bin, self.run_as)
    }

    /// Run one of the server binaries, panicking with its output on failure.
    fn run(&self, bin: &str, args: &[&str]) {
        let out = self
            .command(bin)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run {bin}: {e}"));
        assert!(
            out.status.success(),
            "{bin} {args:?} failed ({}):\n{}\n{}\nserver log:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A libpq/sqlx URL for [`USER`] on [`DATABASE`].
    pub fn url(&self) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{DATABASE}", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // The standby first: the primary then stops without a follower.
        drop(self.standby.take());
        let data = self.data.to_str().expect("utf-8 temp path").to_string();
        // Best effort: the temp dir goes away after this either way.
        let _ = self
            .command("pg_ctl")
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
