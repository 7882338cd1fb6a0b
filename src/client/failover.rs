//! Which send failures may be retried on the other cluster.

use rocketmq_client_rust::{ClientError, MQClientException};
use rocketmq_error::ErrorClass;

/// Broker/namesrv answers meaning "this cluster cannot take the topic right now": TOPIC_NOT_EXIST (17, e.g. the
/// broker unregistered while stopping), BROKER_NOT_EXIST (10003, "No route available"), NOT_FOUND_TOPIC (10005).
const ROUTE_UNAVAILABLE_CODES: [i32; 3] = [17, 10003, 10005];

/// Why a failed send may go to the other cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Retryable {
    /// The cluster did not answer in time; the message may or may not be stored there.
    Timeout,
    /// The cluster could not be reached, or has no route for the topic; the message is not stored there.
    Unreachable,
}

/// Classify `e`; `None` means the error is the caller's to see (bad message, permission, ...).
pub(crate) fn classify(e: &ClientError) -> Option<Retryable> {
    let class = e.descriptor().class();
    if class == ErrorClass::TIMEOUT {
        return Some(Retryable::Timeout);
    }
    if class == ErrorClass::UNAVAILABLE || class == ErrorClass::ROUTING || class == ErrorClass::IO {
        return Some(Retryable::Unreachable);
    }
    let code = e
        .source_ref::<MQClientException>()
        .map(|x| x.response_code())
        .or_else(|| e.broker_response_code());
    if code.is_some_and(|c| ROUTE_UNAVAILABLE_CODES.contains(&c)) {
        return Some(Retryable::Unreachable);
    }
    None
}

/// Error codes that prove a request never left this process or never reached a broker: the client was not
/// running, the component was missing, or no connection could be made. Errors of a request that was written to a
/// connection (`rpc.request.failed`, `transport.session.failed`, I/O, timeouts) are not among them: the broker may
/// have stored the message.
const NOT_REACHED_CODES: [&str; 6] = [
    "client.lifecycle.not_started",
    "client.lifecycle.shutting_down",
    "client.component.unavailable",
    "transport.dns.failed",
    "transport.connection.failed",
    "transport.start.failed",
];

/// Whether `e` proves that nothing was stored: the request never reached a broker ([`NOT_REACHED_CODES`], the
/// routing class: no route to send to), or a broker refused it with a route-unavailable code before storing.
pub(crate) fn certainly_not_reached(e: &ClientError) -> bool {
    let d = e.descriptor();
    if d.class() == ErrorClass::ROUTING || NOT_REACHED_CODES.contains(&d.code().as_str()) {
        return true;
    }
    let code = e
        .source_ref::<MQClientException>()
        .map(|x| x.response_code())
        .or_else(|| e.broker_response_code());
    code.is_some_and(|c| ROUTE_UNAVAILABLE_CODES.contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_and_unreachable_clusters_fail_over_bad_input_does_not() {
        assert_eq!(
            classify(&ClientError::timeout("send", 3000)),
            Some(Retryable::Timeout)
        );
        assert_eq!(
            classify(&ClientError::from(MQClientException::new_with_code(
                17,
                "topic not exist"
            ))),
            Some(Retryable::Unreachable)
        );
        assert_eq!(
            classify(&ClientError::from(MQClientException::new_with_code(
                10003,
                "No route available"
            ))),
            Some(Retryable::Unreachable)
        );
        assert_eq!(
            classify(&ClientError::illegal_argument("body too large")),
            None
        );
        assert_eq!(
            classify(&ClientError::from(MQClientException::new_with_code(
                13,
                "message illegal"
            ))),
            None
        );
        assert_eq!(
            classify(&ClientError::config_invalid("k", "v", "bad")),
            None
        );
    }

    #[test]
    fn only_errors_before_the_broker_count_as_not_reached() {
        assert!(certainly_not_reached(&ClientError::not_started()));
        assert!(certainly_not_reached(&ClientError::from(
            MQClientException::new_with_code(10003, "No route available")
        )));
        assert!(!certainly_not_reached(&ClientError::timeout("send", 3000)));
        assert!(!certainly_not_reached(&ClientError::illegal_argument(
            "body too large"
        )));
    }
}
