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
}
