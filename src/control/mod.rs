//! Talking to the control plane: the wire documents, the polling client that keeps a [`crate::PhaseHandle`] in
//! line with the server and reports what this process applied, and a typed client for the admin API.

mod api;
mod client;
pub(crate) mod file;
pub(crate) mod report;
pub mod wire;

pub use api::{ControlApi, Refusal, Registered};
#[cfg(feature = "server")]
pub(crate) use client::hostname;
pub use client::{
    ControlClient, ControlClientBuilder, MAX_TABLE_BYTES, MIN_POLL_INTERVAL, WATCH_FIRST_LINE,
    WATCH_RETRY_AFTER,
};
