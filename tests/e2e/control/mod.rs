//! The control plane: HTTP API, polling client, readiness gates and outages.

mod api;
mod diverged;
mod gates;
mod monitor;
mod orderly;
mod outage;
mod poller;
mod task;
