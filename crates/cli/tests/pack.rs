//! `perfledger pack` end to end on the embedded log: import the sample
//! council, write the CG 2016/17 Q1 pack as of the PCMC seal's time
//! (2016-08-26T12:00:00Z) as JSON, CSV, HTML and PDF. The four outputs
//! name the same digest; the JSON carries fixed-point figures as numbers;
//! the PDF (headless Chromium, installed by scripts/test) has one non-blank
//! page at least per section, and every page carries the running footer
//! with the pack's digest (pdftotext) — checked with poppler's pdftoppm and
//! pdftotext (also installed by scripts/test).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_perfledger")
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample-council")
}

fn run(dir: &Path, args: &[&str]) -> Output {
    let o = Command::new(bin())
        .arg("--data-dir")
        .arg(dir)
        .env_remove("PERFLEDGER_NATS_URL")
        .env_remove("PERFLEDGER_TENANT")
        .env_remove("PERFLEDGER_DATA")
        .env_remove("RUST_LOG")
        .args(args)
        .output()
        .expect("run perfledger");
    assert!(
        o.status.success(),
        "perfledger {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// The digest `pack` reports on stderr.
fn digest_of(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr);
    err.rsplit("digest ")
        .next()
        .map(|d| d.trim().to_string())
        .unwrap_or_default()
}

fn pack(dir: &Path, out: &Path) -> String {
    let o = run(
        dir,
        &[
            "pack",
            "--unit",
            "CG",
            "--period",
            "2016/17 Q1",
            "--as-of",
            "2016-08-26T12:00:00Z",
            "--council",
            "London Borough of Barnet",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    digest_of(&o)
}

/// Fraction of dark pixels of a binary PGM (`P5 w h 255` + bytes).
fn dark_share(pgm: &[u8]) -> Option<(usize, usize)> {
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 && i < pgm.len() {
        while i < pgm.len() && pgm[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while i < pgm.len() && !pgm[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(String::from_utf8_lossy(&pgm[start..i]).to_string());
    }
    if fields.first().map(String::as_str) != Some("P5") {
        return None;
    }
    let pixels = pgm.get(i + 1..)?;
    Some((pixels.iter().filter(|p| **p < 128).count(), pixels.len()))
}

#[test]
fn pack_as_json_csv_html_and_pdf() {
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    run(
        data.path(),
        &["import", "--backdated", sample().to_str().unwrap()],
    );

    let json = out.path().join("cg.json");
    let d_json = pack(data.path(), &json);
    assert_eq!(d_json.len(), 64, "{d_json}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(v["digest"], d_json.as_str());
    // §2.2: variance (4,331) and (12%) as JSON numbers.
    assert_eq!(v["pack"]["capital_total"]["variance"], -4331);
    assert_eq!(v["pack"]["capital_total"]["slippage_percent"], -12);
    assert_eq!(v["pack"]["rules_version"], "V1");

    let csv = out.path().join("cg.csv");
    assert_eq!(pack(data.path(), &csv), d_json);
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count(), 1 + 28, "{text}");
    assert!(text.contains("CP16-CUSTOMER,CG/S24,Overall satisfaction with customer services,80%,80%,77%,Green Amber,,77%,Same,74%,Improving,"));

    let html = out.path().join("cg.html");
    assert_eq!(pack(data.path(), &html), d_json);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains(&format!("pack digest {d_json}")));

    let pdf = out.path().join("cg.pdf");
    assert_eq!(pack(data.path(), &pdf), d_json);
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF");

    // Every page: rendered, not blank, with the running footer.
    let prefix = out.path().join("page");
    let st = Command::new("pdftoppm")
        .args(["-gray", "-r", "30"])
        .arg(&pdf)
        .arg(&prefix)
        .status()
        .expect("pdftoppm (poppler-utils) is installed by scripts/test");
    assert!(st.success());
    let mut pages: Vec<PathBuf> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pgm"))
        .collect();
    pages.sort();
    assert!(
        pages.len() >= 6,
        "one page at least per section: {}",
        pages.len()
    );
    for p in &pages {
        let (dark, all) = dark_share(&std::fs::read(p).unwrap()).expect("a PGM");
        assert!(dark * 1000 > all, "{} is blank ({dark}/{all})", p.display());
    }
    let txt = Command::new("pdftotext")
        .args(["-layout"])
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext");
    let txt = String::from_utf8_lossy(&txt.stdout);
    let texts: Vec<&str> = txt
        .split('\u{c}')
        .filter(|t| !t.trim().is_empty())
        .collect();
    assert_eq!(texts.len(), pages.len());
    for (i, t) in texts.iter().enumerate() {
        assert!(t.contains(&d_json), "page {} lacks the digest", i + 1);
        assert!(
            t.contains("CG · 2016/17 Q1 · as of log sequence"),
            "page {}",
            i + 1
        );
    }
}

#[test]
fn pack_refuses_an_unknown_output_kind() {
    let data = tempfile::tempdir().unwrap();
    run(
        data.path(),
        &["import", "--backdated", sample().to_str().unwrap()],
    );
    let o = Command::new(bin())
        .arg("--data-dir")
        .arg(data.path())
        .args(["pack", "--period", "2016/17 Q1", "--out", "x.docx"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains(".html, .pdf, .json or .csv"));
}

/// `pack --seal ID` renders the pack the seal pinned, from its stored
/// bytes: the digest is the sealed one (as `seals` lists it), and the
/// running header and every printed page's footer carry the seal id, the
/// digest and the anchor the seal pinned (issue #13 items 2 and 6).
#[test]
fn pack_of_a_seal_carries_seal_id_digest_and_anchor_on_every_page() {
    const SEAL: &str = "PCMC-2016-09-06-CG-Q1";
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    run(
        data.path(),
        &["import", "--backdated", sample().to_str().unwrap()],
    );
    let sealed = |file: &str| {
        let path = out.path().join(file);
        let o = run(
            data.path(),
            &["pack", "--seal", SEAL, "--out", path.to_str().unwrap()],
        );
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        let anchor = err
            .lines()
            .find_map(|l| l.strip_prefix("anchor ").and_then(|l| l.rsplit(' ').next()))
            .expect("the anchor line")
            .to_string();
        (path, digest_of(&o), anchor)
    };
    let (json, digest, anchor) = sealed("s.json");
    assert!(anchor.starts_with("541:"), "{anchor}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(v["seal"], SEAL);
    assert_eq!(v["digest"], digest.as_str());
    assert_eq!(v["anchor"], anchor.as_str());
    assert_eq!(v["pack"]["as_of"], 541);
    // The anchor is the log's: verify --anchor accepts it.
    let verify = run(data.path(), &["verify", "--anchor", &anchor]);
    assert!(String::from_utf8_lossy(&verify.stdout).contains("hashes to the given anchor"));

    let (pdf, d_pdf, _) = sealed("s.pdf");
    assert_eq!(d_pdf, digest);
    let txt = Command::new("pdftotext")
        .args(["-layout"])
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) is installed by scripts/test");
    let txt = String::from_utf8_lossy(&txt.stdout);
    let pages: Vec<String> = txt
        .split('\u{c}')
        .filter(|t| !t.trim().is_empty())
        .map(|t| t.split_whitespace().collect::<String>())
        .collect();
    assert!(pages.len() >= 6, "{} pages", pages.len());
    for (i, t) in pages.iter().enumerate() {
        for want in [
            // The footer wraps: the page number may fall before the root.
            format!("seal{SEAL}·packdigest{digest}·anchor"),
            anchor.clone(),
            format!("rulesv1·seal{SEAL}"),
        ] {
            assert!(t.contains(&want), "page {} lacks {want}: {t}", i + 1);
        }
    }

    // --seal names the pack: no other scope; an unknown seal is an error.
    for args in [
        vec![
            "pack",
            "--seal",
            SEAL,
            "--period",
            "2016/17 Q1",
            "--out",
            "x.html",
        ],
        vec!["pack", "--seal", "NO-SUCH-SEAL", "--out", "x.html"],
    ] {
        let o = Command::new(bin())
            .arg("--data-dir")
            .arg(data.path())
            .args(&args)
            .output()
            .unwrap();
        assert!(!o.status.success(), "{args:?}");
    }
}
