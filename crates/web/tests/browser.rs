//! A real browser loads the served dashboard: headless Chromium takes a
//! screenshot (a valid PNG of the window size) and dumps the rendered DOM
//! (which must hold the RAG table and the heat map). Fails — never skips —
//! when Chromium is missing (Debian: `apt-get install -y chromium`; or set
//! `PERFLEDGER_CHROMIUM` to the binary).
//!
//! `PERFLEDGER_UPDATE_SCREENSHOT=1` also copies the screenshot to
//! `docs/screenshots/dashboard.png`.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("PERFLEDGER_CHROMIUM") {
        return PathBuf::from(p);
    }
    for c in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(c).exists() {
            return PathBuf::from(c);
        }
    }
    panic!(
        "headless Chromium is required for this test and was not found at /usr/bin/chromium: \
         install it (apt-get install -y chromium) or set PERFLEDGER_CHROMIUM"
    );
}

/// GET over raw TCP; the status line.
async fn probe(addr: std::net::SocketAddr) -> std::io::Result<String> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(b"GET /api/units HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).await?;
    let text = String::from_utf8_lossy(&out);
    Ok(text.lines().next().unwrap_or_default().to_string())
}

/// Wait until the server answers, with bounded retries.
async fn wait_ready(addr: std::net::SocketAddr) {
    let mut last = String::new();
    for attempt in 0..100u64 {
        match probe(addr).await {
            Ok(status) if status.starts_with("HTTP/1.1 200") => return,
            Ok(status) => last = status,
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(10 * (attempt + 1).min(20))).await;
    }
    panic!("server at {addr} never became ready: {last}");
}

async fn run_chromium(args: &[String]) -> std::process::Output {
    let bin = chromium();
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(&bin);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--window-size=1280,2000",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(args)
    .kill_on_drop(true);
    // A guard against a hung browser, not a timing assertion.
    match tokio::time::timeout(Duration::from_secs(300), cmd.output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => panic!("cannot run {}: {e}", bin.display()),
        Err(_) => panic!("{} did not finish within 300 s", bin.display()),
    }
}

fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 33, "PNG too short");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "first chunk is not IHDR");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    (w, h)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_renders_the_dashboard() {
    let bin = chromium();
    assert!(bin.exists(), "{} does not exist", bin.display());
    let c = support::council().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = perfledger_web::WebState {
        title: "London Borough of Barnet — performance ledger (test data)".to_string(),
        ..c.state()
    };
    let server = tokio::spawn(perfledger_web::serve(state, listener));
    wait_ready(addr).await;
    let url = format!(
        "http://{addr}/dashboard?unit=Commissioning+Group&period=2016%2F17+Q1&as_of={}",
        c.rm.checkpoint().unwrap()
    );

    let out_dir = tempfile::tempdir().unwrap();
    let shot = out_dir.path().join("dashboard.png");
    let out = run_chromium(&[format!("--screenshot={}", shot.display()), url.clone()]).await;
    assert!(
        shot.exists(),
        "no screenshot written; chromium status {:?}, stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    let (w, h) = png_size(&png);
    assert_eq!((w, h), (1280, 2000), "screenshot dimensions");
    assert!(
        png.len() > 20_000,
        "screenshot suspiciously small: {} bytes",
        png.len()
    );

    let out = run_chromium(&["--dump-dom".to_string(), url]).await;
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("id=\"rag-table\""),
        "DOM lacks the RAG table: {dom}"
    );
    assert!(dom.contains("id=\"heat-map\""), "DOM lacks the heat map");
    assert!(dom.contains("data-impact=\"4\" data-probability=\"4\" data-count=\"1\""));
    assert!(dom.contains("33% (1)"));
    assert!(dom.contains("Satisfaction") || dom.contains("Sealed for"));

    // The indicator page: the trend chart is inline SVG the browser renders.
    let ind_url = format!("http://{addr}/indicators/CG/S1");
    let ind_shot = out_dir.path().join("indicator.png");
    run_chromium(&[
        format!("--screenshot={}", ind_shot.display()),
        ind_url.clone(),
    ])
    .await;
    let ind_png = std::fs::read(&ind_shot).expect("indicator screenshot written");
    assert_eq!(png_size(&ind_png), (1280, 2000));
    let out = run_chromium(&["--dump-dom".to_string(), ind_url]).await;
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("<svg class=\"chart\""),
        "DOM lacks the trend chart"
    );
    assert!(dom.contains("id=\"audit\""), "DOM lacks the audit trail");

    server.abort();

    // The imported sample council's Commissioning Group, Q1 2016/17 (the
    // dashboard of seed 004), as committee would read it.
    let (_sample_dir, rm) = support::sample_council().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr2 = listener.local_addr().unwrap();
    let sample_server = tokio::spawn(perfledger_web::serve(
        perfledger_web::WebState {
            readmodel: rm,
            title: "London Borough of Barnet (sample council)".to_string(),
        },
        listener,
    ));
    wait_ready(addr2).await;
    let sample_url = format!("http://{addr2}/dashboard?unit=CG&period=2016%2F17+Q1");
    let sample_shot = out_dir.path().join("sample-dashboard.png");
    run_chromium(&[
        format!("--screenshot={}", sample_shot.display()),
        sample_url.clone(),
    ])
    .await;
    let sample_png = std::fs::read(&sample_shot).expect("sample screenshot written");
    assert_eq!(png_size(&sample_png), (1280, 2000));
    assert!(sample_png.len() > 20_000);
    let out = run_chromium(&["--dump-dom".to_string(), sample_url]).await;
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("id=\"rag-table\"") && dom.contains("id=\"heat-map\""));

    if std::env::var_os("PERFLEDGER_UPDATE_SCREENSHOT").is_some() {
        let dest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
        std::fs::create_dir_all(&dest).unwrap();
        std::fs::copy(&sample_shot, dest.join("dashboard.png")).unwrap();
        std::fs::copy(&shot, dest.join("test-council-dashboard.png")).unwrap();
        std::fs::copy(&ind_shot, dest.join("indicator.png")).unwrap();
        for (name, path) in [
            ("risks", "/risks?unit=Commissioning+Group"),
            (
                "finance",
                "/finance?unit=Commissioning+Group&period=2016%2F17+Q1",
            ),
            ("home", "/"),
        ] {
            let file = dest.join(format!("{name}.png"));
            run_chromium(&[
                format!("--screenshot={}", file.display()),
                format!("http://{addr2}{path}"),
            ])
            .await;
            png_size(&std::fs::read(&file).unwrap());
        }
    }
    sample_server.abort();
}
