//! Metadata migration (feature `admin`): export topics and consumer groups from a cluster as JSON compatible with
//! `mqadmin exportMetadata`, and import such a file (ours or mqadmin's) into a target cluster with namespace
//! mapping, queue-count clamping, a conflict policy and per-item results.
//!
//! ```no_run
//! # #![recursion_limit = "512"]
//! # async fn demo(rt: std::sync::Arc<rocketmq_client_rust::ClientRuntime>) -> Result<(), rocketmq_migration::MigrationError> {
//! use rocketmq_migration::metadata::{export, import, plan, ExportOptions, ImportOptions};
//! use rocketmq_migration::ClusterConfig;
//!
//! let file = export(&ClusterConfig::new("10.0.0.1:9876"), rt.clone(), &ExportOptions::default()).await?;
//! let target = ClusterConfig::new("10.1.0.1:9876");
//! let dry = plan(&file, &target, rt.clone(), &ImportOptions::default()).await?;
//! println!("{} changes planned", dry.changes);
//! let done = import(&file, &target, rt, &ImportOptions::default(), &|_, _| {}).await?;
//! println!("{:?}", done.status);
//! # Ok(()) }
//! ```

mod cause;
mod compare;
mod export;
mod file;
mod import;
mod namespace;
mod source;
mod system;

pub use cause::Cause;
pub use compare::{compare, Comparison, TopicDifference};
pub use export::{export, ExportOptions};
pub use file::{parse, ExportNotes, GroupEntry, MetadataFile, TopicEntry, TopicNote};
pub use import::{
    import, plan, Action, ConflictPolicy, ImportOptions, ImportReport, ImportStatus, ItemKind,
    ItemResult, QueueCounts, QueueReport, Selection, MAX_ITEMS_PER_RUN,
};
pub use namespace::{NamespaceMode, DEFAULT_NAMESPACE};
pub use source::SourceFacts;
