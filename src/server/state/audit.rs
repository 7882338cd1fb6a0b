//! The audit trail: the append-only log of one JSON line per change (and per refused move), synced before the answer
//! goes out, the [`Journal`] the server appends through, and the lines themselves ([`entry`]).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use crate::control::wire::AuditEntry;
use crate::error::{ErrorKind, MigrationError};
use crate::phase::Phase;

/// The audit log file and every entry in it (kept in memory for `GET /v1/audit`).
pub(crate) struct AuditLog {
    path: PathBuf,
    file: File,
    entries: Vec<AuditEntry>,
}

impl AuditLog {
    /// Open (or create) the log at `path` and load its entries. A torn last line (a crash mid-append) is skipped
    /// with a warning; a malformed line elsewhere is an error naming the line.
    pub(crate) fn open(path: &Path) -> Result<AuditLog, MigrationError> {
        let err = |what: String, e: std::io::Error| {
            MigrationError::new(ErrorKind::Storage, None, what).with_source(e)
        };
        let mut entries = Vec::new();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(err(format!("read {}", path.display()), e)),
        };
        // Complete lines end with '\n'; a tail without one was torn by a crash mid-append.
        let complete = text.rfind('\n').map_or(0, |i| i + 1);
        for (i, line) in text[..complete].lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let entry = serde_json::from_str::<AuditEntry>(line).map_err(|e| {
                MigrationError::new(
                    ErrorKind::Storage,
                    None,
                    format!(
                        "audit log {} line {}: not an audit entry",
                        path.display(),
                        i + 1
                    ),
                )
                .with_source(e)
            })?;
            entries.push(entry);
        }
        if complete < text.len() {
            tracing::warn!(file = %path.display(), bytes = text.len() - complete,
                "audit log: dropping a torn last line (crash during an append)");
            let f = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| err(format!("open {}", path.display()), e))?;
            f.set_len(complete as u64)
                .and_then(|_| f.sync_all())
                .map_err(|e| err(format!("truncate torn tail of {}", path.display()), e))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| err(format!("open {} for append", path.display()), e))?;
        Ok(AuditLog {
            path: path.to_owned(),
            file,
            entries,
        })
    }

    /// The sequence number the next entry gets.
    pub(crate) fn next_seq(&self) -> u64 {
        self.entries.last().map_or(1, |e| e.seq + 1)
    }

    /// Append `entry` (its `seq` is set here) and sync it to disk.
    pub(crate) fn append(&mut self, mut entry: AuditEntry) -> Result<(), MigrationError> {
        entry.seq = self.next_seq();
        let mut line = serde_json::to_vec(&entry).map_err(|e| {
            MigrationError::new(ErrorKind::Storage, None, "encode audit entry").with_source(e)
        })?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|_| self.file.sync_data())
            .map_err(|e| {
                MigrationError::new(
                    ErrorKind::Storage,
                    None,
                    format!("append to audit log {}", self.path.display()),
                )
                .with_source(e)
            })?;
        self.entries.push(entry);
        Ok(())
    }

    /// Entries, oldest first, optionally for one topic, at most the last `limit`.
    pub(crate) fn entries(&self, topic: Option<&str>, limit: usize) -> Vec<AuditEntry> {
        let matching: Vec<&AuditEntry> = self
            .entries
            .iter()
            .filter(|e| topic.is_none_or(|t| e.topic == t))
            .collect();
        let skip = matching.len().saturating_sub(limit);
        matching.into_iter().skip(skip).cloned().collect()
    }
}

/// The audit log as the server appends to it: one change at a time, and a count of the appends that failed.
pub(crate) struct Journal {
    log: Mutex<AuditLog>,
    failures: AtomicU64,
}

impl Journal {
    /// Append through `log`.
    pub(crate) fn new(log: AuditLog) -> Self {
        Journal {
            log: Mutex::new(log),
            failures: AtomicU64::new(0),
        }
    }

    /// Append `entry` (a failed append is logged and counted; the change itself stands).
    pub(crate) fn append(&self, entry: AuditEntry) {
        if let Err(e) = super::disk::write(|| self.log.lock().append(entry)) {
            self.failures.fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %e, "control plane: audit log append FAILED (the change itself is saved)");
        }
    }

    /// Entries, oldest first, optionally for one topic, at most the last `limit`.
    pub(crate) fn entries(&self, topic: Option<&str>, limit: usize) -> Vec<AuditEntry> {
        self.log.lock().entries(topic, limit)
    }

    /// How many entries the log holds.
    pub(crate) fn len(&self) -> u64 {
        self.log.lock().next_seq() - 1
    }

    /// Appends that failed since the server started.
    pub(crate) fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }
}

/// The audit line of a change applied now by `actor` at table `version` (no checks, not forced, no detail).
pub(crate) fn entry(
    actor: &str,
    action: &str,
    topic: &str,
    from: Option<Phase>,
    to: Option<Phase>,
    write_ratio: Option<f64>,
    version: u64,
) -> AuditEntry {
    AuditEntry {
        seq: 0,
        time: rfc3339(SystemTime::now()),
        actor: actor.to_owned(),
        action: action.to_owned(),
        topic: topic.to_owned(),
        from,
        to,
        write_ratio,
        orderly: None,
        forced: false,
        outcome: "applied".into(),
        checks: Vec::new(),
        version,
        detail: None,
    }
}

/// `now` as RFC 3339 UTC with milliseconds, e.g. `2026-11-25T15:04:05.123Z`.
pub(crate) fn rfc3339(now: SystemTime) -> String {
    let d = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_705_445_123);
        assert_eq!(rfc3339(t), "2026-11-26T15:04:05.123Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn log_survives_reopen_and_skips_a_torn_tail() {
        let dir = std::env::temp_dir().join(format!("rmq-audit-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("audit.jsonl");
        let line = |topic: &str| entry("test", "register", topic, None, None, Some(0.5), 1);
        {
            let mut log = AuditLog::open(&path).unwrap();
            log.append(line("a")).unwrap();
            log.append(line("b")).unwrap();
        }
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"seq\":3,\"ti").unwrap();
        drop(f);
        let log = AuditLog::open(&path).unwrap();
        assert_eq!(log.entries(None, 10).len(), 2);
        assert_eq!(log.entries(Some("b"), 10)[0].seq, 2);
        assert_eq!(log.next_seq(), 3);
        drop(log);
        let mut log = AuditLog::open(&path).unwrap();
        log.append(line("c")).unwrap();
        drop(log);
        assert_eq!(
            AuditLog::open(&path).unwrap().entries(None, 2)[1].topic,
            "c"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
