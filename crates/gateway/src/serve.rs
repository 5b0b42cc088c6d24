//! The request/reply loop shared by the command gateway and the query
//! service: a queue subscription, bounded concurrency, and a clean stop.
//! It knows neither service (they call it with their handler) and depends
//! only on `error`, so the module graph has no cycle.

use std::future::Future;
use std::sync::Arc;

use async_nats::HeaderMap;
use futures::StreamExt;
use perfledger_client::wire::{Encoding, ENCODING_HEADER, STATUS_HEADER};
use tokio::sync::Semaphore;

use crate::error::GatewayError;

/// One reply: its encoding, its `Pl-Status` and its body.
pub(crate) struct Reply {
    pub encoding: Encoding,
    pub status: &'static str,
    pub body: Vec<u8>,
}

/// Answer requests on `subjects` (queue group `queue`), at most `limit` at
/// a time, until `shutdown` completes; then stop taking requests and wait
/// for those in flight before returning.
pub(crate) async fn serve_requests<H, F>(
    client: async_nats::Client,
    subjects: Vec<String>,
    queue: String,
    limit: usize,
    shutdown: impl Future<Output = ()>,
    handle: H,
) -> Result<(), GatewayError>
where
    H: Fn(async_nats::Message) -> F,
    F: Future<Output = Reply> + Send + 'static,
{
    if subjects.is_empty() {
        return Err(GatewayError::Subscribe {
            subject: String::new(),
            detail: "no subjects to serve (no tenants configured)".into(),
        });
    }
    let mut subs = Vec::new();
    for subject in &subjects {
        let sub = client
            .queue_subscribe(subject.clone(), queue.clone())
            .await
            .map_err(|e| GatewayError::Subscribe {
                subject: subject.clone(),
                detail: e.to_string(),
            })?;
        subs.push(sub);
    }
    let subject = subjects.join(" ");
    tracing::info!(%subject, %queue, "serving");
    let mut sub = futures::stream::select_all(subs);
    let sem = Arc::new(Semaphore::new(limit));
    tokio::pin!(shutdown);
    loop {
        let msg = tokio::select! {
            _ = &mut shutdown => break,
            m = sub.next() => match m { Some(m) => m, None => break },
        };
        let Ok(permit) = sem.clone().acquire_owned().await else {
            break;
        };
        let client = client.clone();
        let reply_to = msg.reply.clone();
        let answer = handle(msg);
        tokio::spawn(async move {
            let reply = answer.await;
            if let Some(to) = reply_to {
                respond(&client, to, reply).await;
            }
            drop(permit);
        });
    }
    for s in sub.iter_mut() {
        let _ = s.unsubscribe().await;
    }
    let _ = sem.acquire_many(limit as u32).await;
    let _ = client.flush().await;
    tracing::info!(%subject, "stopped");
    Ok(())
}

/// Publish a reply with the encoding and status headers.
async fn respond(client: &async_nats::Client, to: async_nats::Subject, reply: Reply) {
    let mut h = HeaderMap::new();
    h.insert(ENCODING_HEADER, reply.encoding.header_value());
    h.insert(STATUS_HEADER, reply.status);
    if let Err(e) = client.publish_with_headers(to, h, reply.body.into()).await {
        tracing::warn!(error = %e, "cannot publish reply");
    }
}
