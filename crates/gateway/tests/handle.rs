//! The gateway's request handling without NATS (embedded log): subjects,
//! encodings, hostile bytes. Nothing refused is ever appended.

use std::sync::Arc;

use async_nats::HeaderMap;
use perfledger_client::wire::{CommandReply, Encoding, ServiceError};
use perfledger_domain::codec;
use perfledger_domain::command::{Command, CommandEnvelope};
use perfledger_domain::risk::RiskSpec;
use perfledger_domain::{Tenant, Text};
use perfledger_gateway::{CommandGateway, GatewayConfig};
use perfledger_ledger::Ledger;
use perfledger_log::{EmbeddedLog, EventLog};
use uuid::Uuid;

fn t(s: &str) -> Text {
    Text::new("test", s).unwrap()
}

fn register(id: &str) -> CommandEnvelope {
    CommandEnvelope {
        command_id: Uuid::now_v7(),
        tenant: Tenant::new("barnet").unwrap(),
        actor: t("a"),
        source: t("s"),
        correlation_id: Uuid::now_v7(),
        causation_id: None,
        command: Command::RegisterRisk {
            spec: RiskSpec {
                risk_id: t(id),
                unit: t("U"),
                title: t("T"),
                description: t("D"),
                owner: None,
                category: None,
                controls: None,
                response: None,
                assurance: None,
            },
        },
    }
}

async fn gateway(dir: &tempfile::TempDir) -> (CommandGateway<EmbeddedLog>, Arc<EmbeddedLog>) {
    let log = Arc::new(EmbeddedLog::open(dir.path().join("log")).await.unwrap());
    (
        CommandGateway::new(Ledger::new(log.clone(), "pl"), GatewayConfig::default()),
        log,
    )
}

fn headers(enc: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("Pl-Encoding", enc);
    h
}

#[tokio::test]
async fn subjects_must_name_prefix_tenant_and_a_known_family() {
    let dir = tempfile::tempdir().unwrap();
    let (gw, log) = gateway(&dir).await;
    let body = codec::encode_command(&register("R1")).unwrap();
    for (subject, field) in [
        ("pl.cmd.barnet", "subject"),
        ("pl.cmd.barnet.risk.extra", "subject"),
        ("xx.cmd.barnet.risk", "subject"),
        ("pl.cmd.barnet.weather", "family"),
        ("pl.cmd.barnet.finance", "family"),
        ("pl.cmd.camden.risk", "tenant"),
    ] {
        let (_, r) = gw.handle(subject, None, &body).await;
        match r {
            CommandReply::Refused(ServiceError::NotPermitted { field: f, .. }) => {
                assert_eq!(f, field, "{subject}")
            }
            other => panic!("{subject}: {other:?}"),
        }
    }
    assert_eq!(log.head().await.unwrap(), 0);
    let (enc, r) = gw.handle("pl.cmd.barnet.risk", None, &body).await;
    assert_eq!(enc, Encoding::Postcard);
    assert!(
        matches!(r, CommandReply::Accepted(ref a) if a.seq == 1 && !a.duplicate),
        "{r:?}"
    );
    let json = codec::encode_command_json(&register("R2")).unwrap();
    let (enc, r) = gw
        .handle(
            "pl.cmd.barnet.risk",
            Some(&headers("application/json")),
            json.as_bytes(),
        )
        .await;
    assert_eq!(enc, Encoding::Json);
    assert!(
        matches!(r, CommandReply::Accepted(ref a) if a.seq == 2),
        "{r:?}"
    );
}

#[tokio::test]
async fn hostile_bytes_are_refused_without_panics_or_appends() {
    let dir = tempfile::tempdir().unwrap();
    let (gw, log) = gateway(&dir).await;
    let good = codec::encode_command(&register("R1")).unwrap();
    let good_json = codec::encode_command_json(&register("R1"))
        .unwrap()
        .into_bytes();
    // splitmix64: deterministic pseudo-random mutations.
    let mut x: u64 = 0x5eed;
    let mut next = || {
        x = x.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    };
    let mut refused = 0;
    for i in 0..3000 {
        let base = if i % 2 == 0 { &good } else { &good_json };
        let mut b = base.clone();
        match next() % 4 {
            0 => b.truncate((next() as usize) % b.len()),
            1 => {
                for _ in 0..1 + next() % 4 {
                    let at = (next() as usize) % b.len();
                    b[at] = next() as u8;
                }
            }
            2 => b = (0..(next() % 512)).map(|_| next() as u8).collect(),
            _ => b.extend((0..1 + next() % 8).map(|_| next() as u8)),
        }
        if b == *base {
            continue;
        }
        let enc = if next() % 3 == 0 {
            None
        } else if i % 2 == 0 {
            Some("postcard")
        } else {
            Some("json")
        };
        let h = enc.map(headers);
        let (_, r) = gw.handle("pl.cmd.barnet.risk", h.as_ref(), &b).await;
        // A mutation may still decode to a valid command (e.g. a changed
        // letter in a name); what matters is no panic and that decoding
        // failures are refused.
        if let CommandReply::Refused(_) = r {
            refused += 1;
        }
    }
    assert!(refused > 2000, "only {refused} refused");
    // Everything appended came from a decodable, valid command.
    let head = log.head().await.unwrap();
    assert!(head <= 3000 - refused as u64);
}
