//! One reconcile pass of a consumer, for both consumers: nothing before start; then each cluster's raw client
//! brought in line with what the phase table reads there (a failure is logged and kept, and the other cluster is
//! still tried); the phases are recorded as applied only when both clusters came in line.

use std::future::Future;
use std::pin::Pin;

use crate::cluster::Cluster;
use crate::error::MigrationError;

/// A consumer bringing its clusters' clients in line with the phase table, as a boxed future. Boxed because it
/// runs inside the application's `subscribe`, `start` and `assign` futures: unboxed, its type nests so deep that
/// computing their layout in the application's crate comes near the compiler's default recursion limit (128).
pub(crate) type Reconciling<'a> =
    Pin<Box<dyn Future<Output = Result<(), MigrationError>> + Send + 'a>>;

/// A consumer whose clusters' clients follow the phase table: what differs between the two consumers in a pass.
pub(crate) trait Reconcile: Sync {
    /// What one pass reads once and works from on both clusters (the phase table and the subscriptions).
    type Pass: Send + Sync;

    /// The consumer's group, for the logs.
    fn group(&self) -> &str;

    /// What this pass works from; `None` before the consumer has started.
    fn begin(&self) -> Option<Self::Pass>;

    /// Bring `cluster`'s raw client in line with `pass`.
    fn bring_side(
        &self,
        cluster: Cluster,
        pass: &Self::Pass,
    ) -> impl Future<Output = Result<(), MigrationError>> + Send;

    /// Record the phases applied, once both clusters came in line with `pass`.
    fn record(&self, pass: &Self::Pass) -> impl Future<Output = ()> + Send;
}

/// One pass of `consumer` over both clusters (see the module docs). Each consumer boxes it in a method of its own,
/// not in a provided method of [`Reconcile`]: as a provided method it made `tests/type_depth.rs` fail even at the
/// default recursion limit of 128 (proving the boxed pass `Send` in the test's crate overflowed on the raw push
/// consumer's types); a plain method of each consumer keeps that proof in this crate.
pub(crate) async fn pass<C: Reconcile>(consumer: &C) -> Result<(), MigrationError> {
    let Some(pass) = consumer.begin() else {
        return Ok(());
    };
    let mut first_err = None;
    for c in Cluster::BOTH {
        if let Err(e) = consumer.bring_side(c, &pass).await {
            tracing::warn!(group = %consumer.group(), cluster = %c, error = %e,
                "bringing the cluster's client in line with the phase table failed; will retry");
            first_err.get_or_insert(e);
        }
    }
    if first_err.is_none() {
        consumer.record(&pass).await;
    }
    first_err.map_or(Ok(()), Err)
}
