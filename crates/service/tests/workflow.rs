//! The import workflow and seal completion of the application layer, on
//! the sample council over an embedded log: seals are completed as of
//! their `sealed_at` (digest and pack pinned there), a re-import appends
//! nothing, the read model is opened only for seals, and a seal whose
//! default position is not what committee saw is refused.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use perfledger_domain::{Date, Period, Text, Timestamp};
use perfledger_import::{ImportOptions, ImportPlan};
use perfledger_ledger::Ledger;
use perfledger_log::{EmbeddedLog, EventLog};
use perfledger_readmodel::{AsOf, ReadModel};
use perfledger_service::import::{ImportProgress, ImportReport, Sources};
use perfledger_service::seal::seal_position;
use perfledger_service::{BoxError, Service, ServiceError};

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample-council")
}

fn options() -> ImportOptions {
    let mut opts = ImportOptions::new(
        Text::new("actor", "Performance Officer").unwrap(),
        Timestamp::parse("2026-01-01").unwrap(),
    );
    opts.backdated = true;
    opts
}

struct Site {
    dir: tempfile::TempDir,
    service: Service<EmbeddedLog>,
}

impl Site {
    async fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(EmbeddedLog::open(dir.path().join("log")).await.unwrap());
        let service = Service::new(Ledger::new(log, "pl"));
        Site { dir, service }
    }

    fn readmodel(&self, plan: &ImportPlan) -> Result<ReadModel, BoxError> {
        Ok(ReadModel::open(self.dir.path().join("rm"), &plan.tenant)?)
    }

    async fn import(&self, sources: &Sources) -> (ImportPlan, ImportReport) {
        let plan = self
            .service
            .plan_import(sources, options())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut last = None;
        let report = self
            .service
            .apply_import(&plan, || self.readmodel(&plan), &mut |p| last = Some(p))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            last,
            Some(ImportProgress::Appended),
            "the batch is reported over"
        );
        (plan, report)
    }
}

#[tokio::test]
async fn import_completes_each_seal_as_of_its_sealed_at() {
    let site = Site::new().await;
    let (plan, report) = site.import(&Sources::from_paths(&[sample()])).await;
    assert!(!plan.seals.is_empty(), "the sample has seals.csv");
    assert_eq!(report.seals.len(), plan.seals.len(), "every seal completed");
    assert_eq!(report.head_before, 0);
    let head = site.service.log().head().await.unwrap();
    assert_eq!(report.head, head);
    assert_eq!(
        report.checkpoint,
        Some(head),
        "the checkpoint is the last record"
    );
    let rm = site
        .service
        .caught_up(site.readmodel(&plan).unwrap())
        .await
        .unwrap();
    // The seals are appended after every command: a seal's position is
    // the last command recorded by its sealed_at (the seal records, in
    // time order after the commands, are not in the ledger it saw).
    let commands_end = report.seals[0].seq - 1;
    for (req, done) in plan.seals.iter().zip(&report.seals) {
        assert_eq!(done.seal_id, req.seal_id);
        let at = rm
            .resolve(AsOf::Time(req.sealed_at.0))
            .unwrap()
            .min(commands_end);
        assert_eq!(
            done.dashboard_as_of, at,
            "{}: sealed as of sealed_at",
            req.seal_id
        );
        let view = rm
            .dashboard(
                req.unit.as_ref().map(|u| u.as_str()),
                req.period,
                AsOf::Seq(at),
            )
            .unwrap();
        assert_eq!(
            done.digest, view.digest,
            "{}: the digest there",
            req.seal_id
        );
        let record = rm
            .seals(AsOf::Head)
            .unwrap()
            .into_iter()
            .find(|s| s.seq == done.seq)
            .expect("the seal record is in the read model");
        let pin = rm
            .seal_pack(record.seq, record.index)
            .unwrap()
            .expect("the seal pins its pack");
        let root = perfledger_log::integrity::chain_root_at(site.service.log(), at)
            .await
            .unwrap();
        assert_eq!(
            pin.chain_root, root,
            "{}: the chain root there",
            req.seal_id
        );
    }
}

#[tokio::test]
async fn a_reimport_appends_nothing_and_counts_the_seals_present() {
    let site = Site::new().await;
    let sources = Sources::from_paths(&[sample()]);
    let (plan, first) = site.import(&sources).await;
    let (_, again) = site.import(&sources).await;
    assert!(again.seals.is_empty(), "no seal re-derived or re-sent");
    assert_eq!(again.head_before, first.head);
    assert_eq!(again.head, first.head, "nothing appended");
    assert_eq!(again.checkpoint, None, "nothing new to cover");
    assert!(again.commands.values().all(|c| c.appended == 0));
    assert_eq!(
        again.commands["SealCommitteePack"].already_present,
        plan.seals.len()
    );
}

#[tokio::test]
async fn without_seals_the_read_model_is_never_opened() {
    let site = Site::new().await;
    let mut files: Vec<PathBuf> = std::fs::read_dir(sample())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .filter(|p| !p.ends_with("seals.csv"))
        .collect();
    files.sort();
    let sources = Sources::from_paths(&files);
    let plan = site.service.plan_import(&sources, options()).await.unwrap();
    assert!(plan.seals.is_empty());
    let report = site
        .service
        .apply_import(
            &plan,
            || panic!("the read model is opened only for seals"),
            &mut |_| {},
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(report.head > 0);
}

#[tokio::test]
async fn a_seal_whose_default_position_is_not_what_committee_saw_is_refused() {
    let site = Site::new().await;
    let (plan, _) = site.import(&Sources::from_paths(&[sample()])).await;
    let rm = site
        .service
        .caught_up(site.readmodel(&plan).unwrap())
        .await
        .unwrap();
    let q1 = Period::parse("2016/17 Q1").unwrap();
    let meeting = Date::parse("2016-09-06").unwrap();
    // CG/S26 was restated after the meeting: the default position (the
    // ledger as recorded before the meeting day) is not today's dashboard.
    let refused = seal_position(&rm, Some("CG"), q1, "PR", meeting, None).unwrap_err();
    assert!(
        matches!(&refused, ServiceError::Refused(m) if m.contains("pass --as-of naming the position")),
        "{refused}"
    );
    // Naming the position seals it there.
    let at = AsOf::Time(meeting.start().0);
    let seal = seal_position(&rm, Some("CG"), q1, "PR", meeting, Some(at)).unwrap();
    assert_eq!(seal.seq, rm.resolve(at).unwrap());
    // A meeting before the period began is refused whatever the position.
    let early = Date::parse("2016-03-01").unwrap();
    let refused = seal_position(&rm, Some("CG"), q1, "PR", early, Some(at)).unwrap_err();
    assert!(
        matches!(&refused, ServiceError::Refused(m) if m.contains("before 2016/17 Q1 began")),
        "{refused}"
    );
}
