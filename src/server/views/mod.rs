//! Read-only answers: the table as `GET /v1/phases` answers it ([`phases`], with the watch stream in [`watch`]),
//! `GET /v1/topics` ([`topics`]), `GET /v1/groups` ([`groups`]), the task ([`task`]), `GET /v1/monitor`
//! ([`monitoring`]), `/healthz` ([`health`]) and `/metrics` ([`prometheus`]).

pub(crate) mod groups;
pub(crate) mod health;
pub(crate) mod monitoring;
pub(crate) mod phases;
pub(crate) mod prometheus;
pub(crate) mod task;
pub(crate) mod topics;
pub(crate) mod watch;
