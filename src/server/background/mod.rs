//! Background tasks: the traffic sampler, the sealer, the readiness scanner (filling
//! [`crate::server::readiness`]), the monitoring feed and the task claim's renewal. Each runs until [`App::close`]
//! stops it.

pub(crate) mod feed;
pub(crate) mod renewal;
pub(crate) mod sampler;
pub(crate) mod scanner;
pub(crate) mod sealer;
pub(crate) mod worker;

use std::sync::Arc;

use crate::server::app::App;

/// Start every background task of `app`; [`App::close`] stops them.
pub(crate) fn spawn(app: &Arc<App>) {
    for task in [
        sampler::spawn(app),
        sealer::spawn(app),
        scanner::spawn(app),
        feed::spawn(app),
        renewal::spawn(app),
    ] {
        app.keep(task);
    }
}
