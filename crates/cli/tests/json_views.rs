//! One JSON shape (issue #11, from #14 item 12): for the same view of the
//! sample council, the CLI's `--format json`, the web's `/api/...` and the
//! NATS query service's answer are the same JSON — versioned, with
//! amounts and percentages as exact JSON numbers, `key`, hex digests and
//! printed periods.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use perfledger_gateway::query::{QueryConfig, QueryService};
use perfledger_log::embedded::EmbeddedLog;
use perfledger_readmodel::ReadModel;
use perfledger_web::WebState;
use serde_json::Value;

fn perfledger(dir: &Path, args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_perfledger"))
        .arg("--data-dir")
        .arg(dir)
        .env_remove("PERFLEDGER_NATS_URL")
        .env_remove("PERFLEDGER_TENANT")
        .env_remove("PERFLEDGER_DATA")
        .args(args)
        .output()
        .expect("run perfledger");
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("utf-8")
}

fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    assert!(out.starts_with("HTTP/1.1 200"), "{path}: {out}");
    let body = out.split_once("\r\n\r\n").expect("a body").1;
    // Chunked or not: the JSON object is between the first { and last }.
    let (a, b) = (body.find('{').expect("{"), body.rfind('}').expect("}"));
    body[a..=b].to_string()
}

/// The same view through the three front ends.
struct Case {
    cli: &'static [&'static str],
    web: &'static str,
    nats: (&'static str, &'static str),
}

const CASES: &[Case] = &[
    Case {
        cli: &["dashboard", "--unit", "CG", "--period", "2016/17 Q1"],
        web: "/api/dashboard?unit=CG&period=2016%2F17%20Q1",
        nats: ("dashboard", r#"{"unit":"CG","period":"2016/17 Q1"}"#),
    },
    Case {
        cli: &["finance", "--unit", "CG", "--period", "2016/17 Q1"],
        web: "/api/finance?unit=CG&period=2016%2F17%20Q1",
        nats: ("finance", r#"{"unit":"CG","period":"2016/17 Q1"}"#),
    },
    Case {
        cli: &["indicators", "--unit", "CG"],
        web: "/api/indicators?unit=CG",
        nats: ("indicators", r#"{"unit":"CG"}"#),
    },
    Case {
        cli: &["history", "CG/S24"],
        web: "/api/indicators/CG%2FS24",
        nats: ("indicator", r#"{"indicator":"CG/S24"}"#),
    },
    Case {
        cli: &["audit", "indicator", "CG/S24"],
        web: "/api/audit/indicator/CG%2FS24",
        nats: ("audit", r#"{"kind":"indicator","key":"CG/S24"}"#),
    },
    Case {
        cli: &["risks", "--unit", "CG"],
        web: "/api/risks?unit=CG",
        nats: ("risks", r#"{"unit":"CG"}"#),
    },
    Case {
        cli: &["seals"],
        web: "/api/seals",
        nats: ("seals", "{}"),
    },
];

/// JSON text without the whitespace between tokens (the CLI's pretty
/// printing), field order and number text kept.
fn minified(json: &str) -> String {
    let (mut out, mut in_string, mut escaped) = (String::new(), false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

/// The answer's JSON text inside the wire reply `{"Answer":...}`.
fn answer_text(reply: &[u8]) -> String {
    let s = std::str::from_utf8(reply).expect("utf-8");
    s.strip_prefix("{\"Answer\":")
        .and_then(|r| r.strip_suffix('}'))
        .unwrap_or_else(|| panic!("not an answer: {s}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_web_and_nats_print_the_same_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample-council");
    perfledger(
        dir.path(),
        &[
            "import",
            "--backdated",
            sample.to_str().expect("utf-8 path"),
        ],
    );
    // The CLI's answers first (each run catches the read model up and exits).
    let cli: Vec<String> = CASES
        .iter()
        .map(|c| perfledger(dir.path(), &[&["--format", "json"], c.cli].concat()))
        .collect();

    let tenant = perfledger_domain::Tenant::new(
        std::fs::read_to_string(dir.path().join("tenant"))
            .expect("tenant file")
            .trim(),
    )
    .expect("tenant");
    let rm = ReadModel::open(dir.path().join("readmodel"), &tenant).expect("read model");
    let log = Arc::new(
        EmbeddedLog::open(dir.path().join("log"))
            .await
            .expect("log"),
    );
    let svc = QueryService::new(rm.clone(), log, QueryConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let state = WebState {
        readmodel: Arc::new(rm),
        title: "sample".into(),
    };
    tokio::spawn(async move { perfledger_web::serve(state, listener).await });

    for (c, cli) in CASES.iter().zip(&cli) {
        let web = tokio::task::spawn_blocking({
            let path = c.web;
            move || http_get(addr, path)
        })
        .await
        .expect("web");
        let subject = format!("pl.q.{}.{}", tenant.as_str(), c.nats.0);
        let (reply, status) = svc.reply_bytes(None, &subject, c.nats.1.as_bytes()).await;
        assert_eq!(status, "ok", "{}", String::from_utf8_lossy(&reply));
        let nats = answer_text(&reply);
        // Byte for byte once whitespace is set aside (the CLI pretty-prints).
        let cli_v: Value = serde_json::from_str(cli).expect("CLI JSON");
        assert_eq!(minified(cli), web, "{:?}: CLI and web differ", c.cli);
        assert_eq!(web, nats, "{:?}: web and NATS differ", c.cli);
        assert_eq!(cli_v["format"], "perfledger.view.v2", "{cli}");
    }

    // Numbers as numbers, exact; one spelling; key; hex digests.
    let dash: Value = serde_json::from_str(&cli[0]).expect("dashboard");
    assert!(dash["revenue"]["budget"].is_number(), "{dash}");
    assert!(dash["indicators"]["long_term_improved_or_same"]["count"].is_number());
    let fin = &cli[1];
    assert!(
        fin.contains("\"variation\": -491") && fin.contains("\"variation_percent\": -50.7"),
        "{fin}"
    );
    let list: Value = serde_json::from_str(&cli[2]).expect("indicators");
    let first = &list["indicators"][0];
    assert!(first["key"].is_string() && first.get("natural_key").is_none());
    assert!(first["type"].is_string(), "{first}");
    let seals: Value = serde_json::from_str(&cli[6]).expect("seals");
    let digest = seals["seals"][0]["digest"].as_str().expect("hex digest");
    assert!(digest.len() == 64 && digest.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(
        seals["seals"][0]["meeting_date"].as_str().map(str::len),
        Some(10)
    );
}
