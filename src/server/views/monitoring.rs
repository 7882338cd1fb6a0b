//! `GET /v1/monitor?topic=&since=&resolution=`: the migration monitoring series of a topic, or of the whole task,
//! from the monitoring store.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::control::wire::MonitorDoc;
use crate::server::app::App;
use crate::server::error::ApiError;

/// `since`: unix milliseconds, or a time ago as `<n>s`, `<n>m`, `<n>h`, `<n>d` (default `1h`).
fn parse_since(v: Option<&str>) -> Result<SystemTime, ApiError> {
    let v = v.unwrap_or("1h").trim();
    let bad = || {
        ApiError::bad_request(format!(
            "query parameter \"since\" = {v:?}: give unix milliseconds, or a time ago such as 600s, 30m, 6h, 7d"
        ))
    };
    if let Ok(ms) = v.parse::<u64>() {
        return Ok(UNIX_EPOCH + Duration::from_millis(ms));
    }
    let unit = match v.chars().last() {
        Some('s') => 1,
        Some('m') => 60,
        Some('h') => 3_600,
        Some('d') => 86_400,
        _ => return Err(bad()),
    };
    let n: u64 = v[..v.len() - 1].parse().map_err(|_| bad())?;
    let ago = Duration::from_secs(n.checked_mul(unit).ok_or_else(bad)?);
    Ok(SystemTime::now().checked_sub(ago).unwrap_or(UNIX_EPOCH))
}

/// The series of `topic` (`None`: the task) since `since`, at `resolution` seconds a point (default: the tier's).
pub(crate) fn series(
    app: &App,
    topic: Option<String>,
    since: Option<&str>,
    resolution: Option<u64>,
) -> Result<MonitorDoc, ApiError> {
    let since = parse_since(since)?;
    if let Some(t) = &topic {
        if !app.state.table().topics.contains_key(t) {
            return Err(ApiError::unknown_topic(t));
        }
    }
    let resolution = match resolution {
        Some(0) => {
            return Err(ApiError::bad_request(
                "query parameter \"resolution\" = 0: give a number of seconds, at least 1",
            ))
        }
        r => r.map(Duration::from_secs),
    };
    let series = app
        .monitor
        .lock()
        .series(topic.as_deref(), since, resolution);
    Ok(match series {
        Some(s) => s.into_doc(topic),
        // Registered but not watched yet (before its first point).
        None => MonitorDoc {
            topic,
            resolution_s: app.monitor_every.as_secs(),
            points: Vec::new(),
        },
    })
}
