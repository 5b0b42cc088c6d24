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
    register_for("barnet", id)
}

fn register_for(tenant: &str, id: &str) -> CommandEnvelope {
    CommandEnvelope {
        command_id: Uuid::now_v7(),
        tenant: Tenant::new(tenant).unwrap(),
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
    gateway_for(dir, &["barnet"]).await
}

async fn gateway_for(
    dir: &tempfile::TempDir,
    tenants: &[&str],
) -> (CommandGateway<EmbeddedLog>, Arc<EmbeddedLog>) {
    let log = Arc::new(EmbeddedLog::open(dir.path().join("log")).await.unwrap());
    let tenants = tenants.iter().map(|t| Tenant::new(t).unwrap());
    (
        CommandGateway::new(Ledger::new(log.clone(), "pl"), GatewayConfig::new(tenants)),
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

/// Issue #14 item 1: a gateway serves the tenants it is configured for.
/// A well-formed command of another tenant, on that tenant's own subject
/// (so the subject/command tenant check alone passes), is refused naming
/// the tenant, and nothing is appended; the tenants it serves are accepted.
#[tokio::test]
async fn commands_for_tenants_not_served_are_refused_naming_the_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let (gw, log) = gateway(&dir).await;
    assert_eq!(gw.subjects(), vec!["pl.cmd.barnet.*".to_string()]);
    for enc in [Encoding::Postcard, Encoding::Json] {
        let cmd = register_for("evil", "R-EVIL");
        let body = match enc {
            Encoding::Postcard => codec::encode_command(&cmd).unwrap(),
            Encoding::Json => codec::encode_command_json(&cmd).unwrap().into_bytes(),
        };
        let (_, r) = gw.handle("pl.cmd.evil.risk", None, &body).await;
        match r {
            CommandReply::Refused(ServiceError::NotPermitted {
                field,
                subject_value,
                command_value,
            }) => {
                assert_eq!((field.as_str(), subject_value.as_str()), ("tenant", "evil"));
                assert!(command_value.contains("barnet"), "{command_value}");
            }
            other => panic!("{enc:?}: {other:?}"),
        }
    }
    assert_eq!(log.head().await.unwrap(), 0);

    let dir = tempfile::tempdir().unwrap();
    let (two, log) = gateway_for(&dir, &["camden", "barnet", "camden"]).await;
    assert_eq!(
        two.subjects(),
        vec!["pl.cmd.barnet.*".to_string(), "pl.cmd.camden.*".to_string()]
    );
    for tenant in ["barnet", "camden"] {
        let body = codec::encode_command(&register_for(tenant, "R1")).unwrap();
        let (_, r) = two
            .handle(&format!("pl.cmd.{tenant}.risk"), None, &body)
            .await;
        assert!(matches!(r, CommandReply::Accepted(_)), "{tenant}: {r:?}");
    }
    assert_eq!(log.head().await.unwrap(), 2);
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
