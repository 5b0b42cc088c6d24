//! A process killed before its drops ran leaves its nats-server running;
//! the next process's reap kills it and removes its directory.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Set in the child this test runs: start a server, print its store, wait.
const CHILD_ENV: &str = "PERFLEDGER_TESTKIT_ORPHAN_CHILD";
/// Precedes the child's server pid and store on its output.
const MARKER: &str = "orphan-server:";

fn alive(pid: u32) -> bool {
    // A zombie is gone for our purpose: its /proc entry says state Z.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.split_whitespace().nth(2).is_none_or(|st| st != "Z"))
        .unwrap_or(false)
}

#[test]
fn a_killed_process_s_server_is_reaped_by_the_next() {
    if std::env::var_os(CHILD_ENV).is_some() {
        let server = perfledger_testkit::NatsServer::start();
        // On the harness's "test … " line: found by its marker.
        println!(
            "{MARKER} {} {}",
            server.pid().expect("running"),
            server.store_dir().display()
        );
        std::thread::sleep(Duration::from_secs(600));
        unreachable!("killed by the parent before this");
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_killed_process_s_server_is_reaped_by_the_next",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let (server_pid, store) = loop {
        let line = lines.next().expect("the child prints its server").unwrap();
        if let Some((_, printed)) = line.split_once(MARKER) {
            let (pid, store) = printed.trim().split_once(' ').expect("pid and store");
            break (pid.parse::<u32>().expect("a pid"), PathBuf::from(store));
        }
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(alive(server_pid), "the server outlives its killed owner");
    let dir = store.parent().unwrap().to_path_buf();

    let reaped = perfledger_testkit::reap_orphaned_servers();
    assert!(reaped.contains(&dir), "{reaped:?} should hold {dir:?}");
    assert!(!dir.exists());
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(server_pid) {
        assert!(
            Instant::now() < deadline,
            "server {server_pid} still running"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
