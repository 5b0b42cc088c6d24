//! Event ids come from the injected id source (issue #11): with a fixed
//! clock and `SequentialIds`, every event id is known in advance and the
//! same commands store the same bytes on every run.

use std::sync::Arc;

use futures::StreamExt;
use perfledger_domain::organisation::{OrgKind, OrgSpec};
use perfledger_domain::{decode_commit, Command, CommandEnvelope, Tenant, Text, Timestamp};
use perfledger_ledger::{FixedClock, Ledger, Submitted};
use perfledger_log::{EventLog, MemoryLog, Until};
use perfledger_testkit::ids::SequentialIds;
use uuid::Uuid;

const NOW: Timestamp = Timestamp(1_770_000_000_000);
const ID_MILLIS: u64 = 1_770_000_000_000;

/// The command defining unit `name` (command id `n`).
fn define_unit(n: u128, name: &str) -> CommandEnvelope {
    let text = |s: &str| Text::new("test", s).unwrap();
    let spec = OrgSpec {
        kind: OrgKind::Unit,
        name: text(name),
        parent: None,
        lead: None,
    };
    CommandEnvelope {
        command: Command::DefineUnit { spec },
        command_id: Uuid::from_u128(0x1D5_0000 + n),
        correlation_id: Uuid::from_u128(0x1D5_0000 + n),
        causation_id: None,
        tenant: Tenant::new("barnet").unwrap(),
        actor: text("Head of Performance"),
        source: text("test"),
    }
}

/// Run the same three commands on a fresh log: the stored payloads, the
/// stored event ids in log order, and how many ids the source handed out.
async fn run() -> (Vec<bytes::Bytes>, Vec<Uuid>, u64) {
    let ids = Arc::new(SequentialIds::new(ID_MILLIS));
    let l = Ledger::new(Arc::new(MemoryLog::new()), "pl")
        .with_clock(Arc::new(FixedClock(NOW)))
        .with_ids(ids.clone());
    let items = vec![
        Submitted::new(define_unit(1, "Commissioning Group")),
        Submitted::new(define_unit(2, "Adults and Communities")),
    ];
    l.execute_batch(items, |_, _| {}).await.unwrap();
    // A re-sent command is a duplicate: it mints no ids.
    let again = l
        .execute(Submitted::new(define_unit(1, "Commissioning Group")))
        .await
        .unwrap();
    assert!(again.duplicate);
    let mut payloads = Vec::new();
    let mut event_ids = Vec::new();
    let mut records = l.log().read(1, Until::Head);
    while let Some(r) = records.next().await {
        let r = r.unwrap();
        event_ids.extend(
            decode_commit(&r.payload)
                .unwrap()
                .iter()
                .map(|e| e.event_id),
        );
        payloads.push(r.payload);
    }
    (payloads, event_ids, ids.handed_out())
}

#[tokio::test]
async fn event_ids_come_from_the_injected_source() {
    let (payloads, event_ids, handed_out) = run().await;
    assert_eq!(payloads.len(), 2);
    let expected: Vec<Uuid> = (1..=handed_out)
        .map(|n| SequentialIds::id(ID_MILLIS, n))
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(
        event_ids, expected,
        "every stored event id, in log order, is the source's next id"
    );
}

#[tokio::test]
async fn the_same_commands_store_the_same_bytes() {
    let (a, _, _) = run().await;
    let (b, _, _) = run().await;
    assert_eq!(a, b);
}
