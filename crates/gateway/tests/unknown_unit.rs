//! Issue #14 item 6: the NATS query service refuses an unknown unit the
//! way the web (404) and the CLI (an error) do, through the read model's
//! one check, instead of answering ok with an empty dashboard.

use perfledger_client::query::QueryReply;
use perfledger_client::wire::ServiceError;
use perfledger_gateway::query::{QueryConfig, QueryService};
use perfledger_readmodel::ReadModel;

#[tokio::test]
async fn dashboard_finance_and_risks_of_an_unknown_unit_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = std::sync::Arc::new(
        perfledger_log::EmbeddedLog::open(dir.path().join("log"))
            .await
            .unwrap(),
    );
    let svc = QueryService::new(
        ReadModel::open_temporary(&perfledger_domain::Tenant::new("barnet").unwrap()).unwrap(),
        log,
        QueryConfig::default(),
    );
    for (view, body) in [
        ("dashboard", r#"{"unit":"XX","period":"2016/17 Q1"}"#),
        ("finance", r#"{"unit":"XX","period":"2016/17 Q1"}"#),
        ("risks", r#"{"unit":"XX"}"#),
        ("indicators", r#"{"unit":"XX"}"#),
    ] {
        match svc
            .handle(&format!("pl.q.barnet.{view}"), body.as_bytes())
            .await
        {
            QueryReply::Refused(ServiceError::BadQuery { detail, .. }) => {
                assert!(detail.contains("no unit named \"XX\""), "{view}: {detail}");
            }
            other => panic!("{view}: an unknown unit answered {other:?}"),
        }
    }
    // Council-wide (no unit) is still answered.
    match svc
        .handle("pl.q.barnet.dashboard", br#"{"period":"2016/17 Q1"}"#)
        .await
    {
        QueryReply::Answer(_) => {}
        other => panic!("council-wide: {other:?}"),
    }
}
