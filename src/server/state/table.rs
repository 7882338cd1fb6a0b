//! The server's state: the phase table (published to every watcher) and the migration task, persisted together to
//! the state file by atomic replace, and changed one at a time behind the change lock. Each change is persisted,
//! then published, then audited; a table change is refused while live clients hold a newer table.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::watch;

use super::audit::{AuditLog, Journal};
use super::divergence::Divergence;
use crate::control::file::{read_json, replace_json};
use crate::control::wire::{AuditEntry, DivergenceView, PhasesDoc, TaskDoc};
use crate::error::MigrationError;
use crate::server::config::ServerConfig;
use crate::server::error::ApiError;
use crate::topic_state::TopicState;

/// The state file: the phase table and the migration task, written together.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct StoredState {
    #[serde(flatten)]
    table: PhasesDoc,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    task: Option<TaskDoc>,
}

/// The published table: the current one, and a receiver notified on every change.
pub(crate) struct Published(watch::Sender<Arc<PhasesDoc>>);

impl Published {
    /// The current table.
    pub(crate) fn current(&self) -> Arc<PhasesDoc> {
        self.0.borrow().clone()
    }

    /// A receiver notified on every published change.
    pub(crate) fn watch(&self) -> watch::Receiver<Arc<PhasesDoc>> {
        self.0.subscribe()
    }
}

/// A table change in the making: the table one version after the current one, and the audit lines of the change.
pub(crate) struct Draft {
    /// The new table (its version is already the new one).
    pub(crate) next: PhasesDoc,
    entries: Vec<AuditEntry>,
}

impl Draft {
    /// The table after `current`: the same, one version up.
    pub(crate) fn after(current: &PhasesDoc) -> Self {
        let mut next = PhasesDoc::clone(current);
        next.version += 1;
        Draft {
            next,
            entries: Vec::new(),
        }
    }

    /// The new table's version.
    pub(crate) fn version(&self) -> u64 {
        self.next.version
    }

    /// Make `state` (at the new version) `topic`'s state; returns it as put.
    pub(crate) fn put(&mut self, topic: &str, state: TopicState) -> TopicState {
        let state = TopicState {
            version: self.next.version,
            ..state
        };
        self.next.topics.insert(topic.to_owned(), state);
        state
    }

    /// Add the audit line `e` of this change (made with [`super::audit::entry`] at [`Draft::version`]), for the caller to
    /// complete.
    pub(crate) fn add(&mut self, e: AuditEntry) -> &mut AuditEntry {
        self.entries.push(e);
        self.entries.last_mut().expect("just pushed")
    }

    /// Whether no audit line was added: nothing to commit.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The phase table and the task, their file, the change lock, the audit trail and the clients ahead of the table.
pub(crate) struct State {
    file: PathBuf,
    published: Published,
    /// The migration task, if one was created (changed only under `changes`, saved with the table).
    task: Mutex<Option<TaskDoc>>,
    changes: tokio::sync::Mutex<()>,
    journal: Journal,
    /// Live clients holding a newer table than this one (see [`super::divergence`]).
    divergence: Divergence,
    /// How long a client counts as live after its last heartbeat.
    client_ttl: Duration,
}

impl State {
    /// Load the state file (none: an empty table) and the audit log of `config`. Fails with
    /// [`crate::ErrorKind::Storage`] when either cannot be read or the file holds an invalid state.
    pub(crate) fn open(config: &ServerConfig) -> Result<State, MigrationError> {
        let stored: Option<StoredState> = read_json(&config.state_file)?;
        let missing = stored.is_none();
        let StoredState { table: doc, task } = stored.unwrap_or_default();
        for (topic, state) in &doc.topics {
            state.validate().map_err(|e| {
                MigrationError::from(e).with_context(format!(
                    "state file {}: topic {topic:?}",
                    config.state_file.display()
                ))
            })?;
        }
        let audit = AuditLog::open(&config.audit_file)?;
        if missing && audit.next_seq() > 1 {
            tracing::error!(state_file = %config.state_file.display(), audit_file = %config.audit_file.display(),
                audit_entries = audit.next_seq() - 1,
                "the state file is missing but the audit log has entries: starting from an EMPTY table. Clients that \
                 applied phases from the lost table will report newer versions; until `rmq-migrate adopt` (or \
                 `adopt --force`) the control plane reports `diverged` and refuses every table change");
        } else if missing {
            tracing::warn!(state_file = %config.state_file.display(),
                "no state file: starting from an empty table (clients that report newer versions will make it \
                 `diverged`)");
        }
        let (table, _) = watch::channel(Arc::new(doc));
        Ok(State {
            file: config.state_file.clone(),
            published: Published(table),
            task: Mutex::new(task),
            changes: tokio::sync::Mutex::new(()),
            journal: Journal::new(audit),
            divergence: Divergence::default(),
            client_ttl: config.client_ttl,
        })
    }

    /// Log what was loaded.
    pub(crate) fn log_loaded(&self) {
        let (doc, task) = (self.table(), self.task());
        tracing::info!(
            version = doc.version,
            topics = doc.topics.len(),
            audit_entries = self.journal.len(),
            task = task.as_ref().map(|t| t.name.as_str()),
            step = task.as_ref().map(|t| t.step.as_str()),
            "control plane state loaded"
        );
    }

    /// The current table.
    pub(crate) fn table(&self) -> Arc<PhasesDoc> {
        self.published.current()
    }

    /// The published table, for readers that follow it.
    pub(crate) fn published(&self) -> &Published {
        &self.published
    }

    /// The migration task, if any.
    pub(crate) fn task(&self) -> Option<TaskDoc> {
        self.task.lock().clone()
    }

    /// Hold this while changing the table or the task: changes are made one at a time.
    pub(crate) async fn changes(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.changes.lock().await
    }

    /// The audit trail.
    pub(crate) fn journal(&self) -> &Journal {
        &self.journal
    }

    /// The clients ahead of the table.
    pub(crate) fn divergence(&self) -> &Divergence {
        &self.divergence
    }

    /// How long a client counts as live after its last heartbeat.
    pub(crate) fn client_ttl(&self) -> Duration {
        self.client_ttl
    }

    /// Live clients holding a newer table than this one, if any.
    pub(crate) fn diverged(&self) -> Option<DivergenceView> {
        self.divergence.view(&self.table(), self.client_ttl)
    }

    /// Refused while clients hold a newer table (they would ignore any table this control plane publishes).
    pub(crate) fn not_diverged(&self) -> Result<(), ApiError> {
        match self.diverged() {
            Some(d) => Err(ApiError::diverged(&d)),
            None => Ok(()),
        }
    }

    /// Persist, publish, audit `change` (under [`State::changes`]). Nothing changes unless the state file was
    /// replaced; refused while clients hold a newer table.
    pub(crate) fn commit(&self, change: Draft) -> Result<(), ApiError> {
        self.not_diverged()?;
        self.commit_anyway(change)
    }

    /// [`State::commit`] without the divergence check (for the adoption that resolves it).
    pub(crate) fn commit_anyway(&self, change: Draft) -> Result<(), ApiError> {
        let task = self.task.lock().clone();
        self.save(&change.next, task)?;
        self.published.0.send_replace(Arc::new(change.next));
        self.audit_all(change.entries);
        Ok(())
    }

    /// Replace the task (under [`State::changes`]): persist with the current table, then audit.
    pub(crate) fn commit_task(
        &self,
        task: Option<TaskDoc>,
        entries: Vec<AuditEntry>,
    ) -> Result<(), ApiError> {
        self.save(&self.table(), task.clone())?;
        *self.task.lock() = task;
        self.audit_all(entries);
        Ok(())
    }

    fn audit_all(&self, entries: Vec<AuditEntry>) {
        for e in entries {
            self.journal.append(e);
        }
    }

    fn save(&self, table: &PhasesDoc, task: Option<TaskDoc>) -> Result<(), ApiError> {
        let state = StoredState {
            table: table.clone(),
            task,
        };
        super::disk::write(|| replace_json(&self.file, &state)).map_err(ApiError::storage)
    }
}
