//! One send, routed to a first cluster and, where the phase and the error allow, once more to the other one.
//!
//! Shared by [`MigratingProducer`](crate::MigratingProducer) and the transactional producer: both route by the
//! topic's [`TopicState`] and count per topic and cluster (on the counters the send's [`Flight`] carries); they
//! differ only in the raw client they drive and in which errors may be retried elsewhere ([`FailoverPolicy`]).

use std::future::Future;

use rocketmq_client_rust::{ClientError, ClientResult};

use super::failover::{certainly_not_reached, classify, Retryable};
use super::flight::Flight;
use crate::cluster::Cluster;
use crate::topic_state::TopicState;

/// Which failures of the first attempt may be retried on the other cluster (always only where
/// [`TopicState::allows_failover`]: a phase that reads both clusters, and not an orderly topic).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FailoverPolicy {
    /// Timeouts and unreachable clusters (a timed-out message may be stored twice; dedupe removes the copy).
    TimeoutOrUnreachable,
    /// Unreachable clusters only ([`classify`] says [`Retryable::Unreachable`]).
    Unreachable,
    /// Only errors that prove the request never reached a broker ([`certainly_not_reached`]).
    NotReached,
}

impl FailoverPolicy {
    /// The policy of the plain sends: `retry_on_timeout` picks between the first two.
    pub(crate) fn plain(retry_on_timeout: bool) -> Self {
        if retry_on_timeout {
            FailoverPolicy::TimeoutOrUnreachable
        } else {
            FailoverPolicy::Unreachable
        }
    }

    fn allows(self, e: &ClientError) -> bool {
        match (self, classify(e)) {
            (FailoverPolicy::TimeoutOrUnreachable, Some(_)) => true,
            (FailoverPolicy::Unreachable, Some(Retryable::Unreachable)) => true,
            (FailoverPolicy::NotReached, _) => certainly_not_reached(e),
            _ => false,
        }
    }
}

/// Where one send goes and how it may fail over.
pub(crate) struct Route<'a> {
    /// The send's running guard: its topic, and the topic's counters the outcome is counted on.
    pub(crate) flight: &'a Flight,
    pub(crate) state: TopicState,
    pub(crate) first: Cluster,
    pub(crate) policy: FailoverPolicy,
    /// The number of messages a success stands for.
    pub(crate) count: u64,
}

impl<'a> Route<'a> {
    /// A send of one message counted on `flight`'s topic, first to `first`, failing over as `policy` allows.
    pub(crate) fn new(
        flight: &'a Flight,
        state: TopicState,
        first: Cluster,
        policy: FailoverPolicy,
    ) -> Self {
        Route {
            flight,
            state,
            first,
            policy,
            count: 1,
        }
    }

    /// The same route for a send that stands for `count` messages (a batch).
    pub(crate) fn count(self, count: u64) -> Self {
        Route { count, ..self }
    }
}

/// A send routed before it runs in the background: it owns the send's running guard.
pub(crate) struct Planned {
    pub(crate) state: TopicState,
    pub(crate) first: Cluster,
    /// The send's running guard, dropped when the send has ended.
    flight: Flight,
    /// The number of messages a success stands for.
    pub(crate) count: u64,
}

impl Planned {
    /// A send of one message under `state`, first to `first`, running while `flight` is held.
    pub(crate) fn new(state: TopicState, first: Cluster, flight: Flight) -> Self {
        Planned {
            state,
            first,
            flight,
            count: 1,
        }
    }

    /// The same send standing for `count` messages (a batch).
    pub(crate) fn count(self, count: u64) -> Self {
        Planned { count, ..self }
    }

    /// A copy of `payload` for the other cluster where the phase can fail over (never in `initial` or
    /// `completed`, nor for an orderly topic); `None` elsewhere, so the common path copies nothing.
    pub(crate) fn spare<P: Clone>(&self, payload: &P) -> Option<P> {
        self.state.allows_failover().then(|| payload.clone())
    }

    /// The route of this send, failing over as `policy` allows.
    pub(crate) fn route(&self, policy: FailoverPolicy) -> Route<'_> {
        Route::new(&self.flight, self.state, self.first, policy).count(self.count)
    }

    /// Count the outcome of this send on its topic and cluster (`ok`: it succeeded) and end its flight.
    pub(crate) fn finish(self, ok: bool) {
        let counts = self.flight.written().counts();
        if ok {
            counts.sent(self.first, self.count);
        } else {
            counts.failed(self.first);
        }
    }

    /// [`Self::finish`] for a raw client's callback (called through `&self`): the first call counts the outcome
    /// and ends the flight, any later one does nothing.
    pub(crate) fn finish_once(self) -> impl Fn(bool) + Send + Sync + 'static {
        let planned = parking_lot::Mutex::new(Some(self));
        move |ok| {
            if let Some(planned) = planned.lock().take() {
                planned.finish(ok);
            }
        }
    }
}

/// Run `op` with the client of `route.first`; where the phase and `route.policy` allow, run it once more with the
/// other cluster's client and `spare` (a copy of the payload). `client` yields a started client of a cluster.
/// The outcome is counted on the topic of `route.flight`.
pub(crate) async fn dispatch_on<C, P, R, G, GFut, F, Fut>(
    route: Route<'_>,
    payload: P,
    spare: Option<P>,
    client: G,
    op: F,
) -> ClientResult<R>
where
    G: Fn(Cluster) -> GFut,
    GFut: Future<Output = ClientResult<C>>,
    F: Fn(C, P) -> Fut,
    Fut: Future<Output = ClientResult<R>>,
{
    let Route {
        flight,
        state,
        first,
        policy,
        count,
    } = route;
    let (topic, counters) = (flight.topic(), flight.counts());
    let attempt = match client(first).await {
        Ok(p) => op(p, payload).await,
        Err(e) => Err(e),
    };
    let err = match attempt {
        Ok(r) => {
            counters.sent(first, count);
            return Ok(r);
        }
        Err(e) => e,
    };
    let retry = spare.filter(|_| state.allows_failover() && policy.allows(&err));
    let Some(spare) = retry else {
        counters.failed(first);
        return Err(err);
    };
    let second = first.other();
    tracing::warn!(topic, phase = %state.phase, from = %first, to = %second, error = ?err,
        "send failed, failing over to the other cluster");
    counters.failed_over_from(first);
    let attempt = match client(second).await {
        Ok(p) => op(p, spare).await,
        Err(e) => Err(e),
    };
    match attempt {
        Ok(r) => {
            counters.sent(second, count);
            Ok(r)
        }
        Err(e) => {
            tracing::warn!(topic, phase = %state.phase, cluster = %second, error = ?e, "failover send failed too");
            counters.failed(second);
            Err(e)
        }
    }
}
