//! What every migrating builder takes besides its raw builder's settings (the group, the two clusters, the phase
//! table, the control plane, the dedupe choice of the consumers), the checks `build` runs on it, and the macros
//! that give each builder its setters and its raw builder's mirrored settings from one definition.

use std::sync::Arc;

use rocketmq_client_rust::ClientRuntime;

use super::base::{debug_client, ClientBase};
use crate::config::ClusterConfig;
use crate::control::report::{ClientKind, Reporter};
use crate::control::ControlClient;
use crate::dedupe::{Deduplicator, KeyExtractor, MemoryDeduplicator, UniqKey};
use crate::error::{ConfigError, ConfigErrorKind, MigrationError};
use crate::route::PhaseHandle;

/// The settings every migrating builder has: the runtime, the group, both clusters, the phase table to follow and
/// the control plane to report to.
pub(crate) struct Common {
    runtime: Arc<ClientRuntime>,
    pub(crate) group: Option<String>,
    pub(crate) source: Option<ClusterConfig>,
    pub(crate) target: Option<ClusterConfig>,
    pub(crate) phases: Option<PhaseHandle>,
    pub(crate) control: Option<ControlClient>,
}

/// [`Common`] after `build`'s checks: a group that is not blank and two valid clusters.
pub(crate) struct Checked {
    /// Group, clusters and runtime.
    pub(crate) base: ClientBase,
    pub(crate) phases: PhaseHandle,
    pub(crate) control: Option<ControlClient>,
}

impl Common {
    pub(crate) fn new(runtime: Arc<ClientRuntime>) -> Self {
        Common {
            runtime,
            group: None,
            source: None,
            target: None,
            phases: None,
            control: None,
        }
    }

    /// Check what `build` needs: both clusters valid, a group named (refused as `group_setting`, the name of the
    /// builder's group setter). The phase table defaults to a new one where every topic is `Initial`.
    pub(crate) fn check(self, group_setting: &str) -> Result<Checked, MigrationError> {
        let source = self.source.ok_or_else(|| ConfigError::missing("source"))?;
        let target = self.target.ok_or_else(|| ConfigError::missing("target"))?;
        source.validate("source")?;
        target.validate("target")?;
        let group = self.group.unwrap_or_default();
        if group.trim().is_empty() {
            let e = ConfigError::new(
                ConfigErrorKind::Missing,
                group_setting,
                group,
                "is required",
            );
            return Err(e.into());
        }
        Ok(Checked {
            base: ClientBase {
                runtime: self.runtime,
                group,
                clusters: [source, target],
            },
            phases: self.phases.unwrap_or_default(),
            control: self.control,
        })
    }

    /// `name { group, source, target, .. }` for a builder's `Debug`.
    pub(crate) fn debug<'a, 'b>(
        &self,
        f: &'a mut std::fmt::Formatter<'b>,
        name: &str,
    ) -> std::fmt::DebugStruct<'a, 'b> {
        debug_client(f, name, &self.group, (&self.source, &self.target))
    }
}

impl Checked {
    /// Register `core` with the control plane as a client of `kind`, when the builder was given one.
    pub(crate) fn register(&self, kind: ClientKind, core: Arc<dyn Reporter>) {
        if let Some(control) = &self.control {
            control.register(kind, &self.base.group, &self.base.clusters, &core);
        }
    }
}

/// The consumers' dedupe choice: the store (`None`: dedupe off) and the key.
#[derive(Default)]
pub(crate) struct DedupeChoice {
    pub(crate) store: Option<Option<Arc<dyn Deduplicator>>>,
    pub(crate) key: Option<Arc<dyn KeyExtractor>>,
}

impl DedupeChoice {
    /// The store (default: a [`MemoryDeduplicator`] with default settings) and the key (default: [`UniqKey`]).
    pub(crate) fn resolve(self) -> (Option<Arc<dyn Deduplicator>>, Arc<dyn KeyExtractor>) {
        let store = self.store.unwrap_or_else(|| {
            Some(Arc::new(MemoryDeduplicator::default()) as Arc<dyn Deduplicator>)
        });
        (store, self.key.unwrap_or_else(|| Arc::new(UniqKey)))
    }
}

/// What every migrating builder has from [`Common`]: its `Debug` (group, clusters and the fields named after the
/// group setter), the group setter (`producer_group` or `consumer_group`), `source`, `target`, `phases` and
/// `control`, on a builder with a `common` field.
macro_rules! common_builder {
    ($builder:ident, $group:ident $(, $extra:ident)*) => {
        impl std::fmt::Debug for $builder {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.common
                    .debug(f, stringify!($builder))
                    $( .field(stringify!($extra), &self.$extra) )*
                    .finish_non_exhaustive()
            }
        }

        impl $builder {
            /// The group, used on both clusters.
            pub fn $group(mut self, $group: impl Into<cheetah_string::CheetahString>) -> Self {
                self.common.group = Some($group.into().to_string());
                self
            }

            /// The cluster being migrated away from. Required.
            pub fn source(mut self, source: $crate::ClusterConfig) -> Self {
                self.common.source = Some(source);
                self
            }

            /// The cluster being migrated to. Required; its client starts only when a topic first needs it.
            pub fn target(mut self, target: $crate::ClusterConfig) -> Self {
                self.common.target = Some(target);
                self
            }

            /// The phase table to follow (share one handle between the producers and consumers of an
            /// application). Default: a new table where every topic is `Initial`.
            pub fn phases(mut self, phases: $crate::PhaseHandle) -> Self {
                self.common.phases = Some(phases);
                self
            }

            /// Follow the control plane: use `control`'s phase table and report this client (its topics, the
            /// phases it has brought itself in line with, counters) in its heartbeats, so the control plane's
            /// gates can see it.
            pub fn control(mut self, control: &$crate::control::ControlClient) -> Self {
                self.common.phases = Some(control.phases());
                self.common.control = Some(control.clone());
                self
            }
        }
    };
}
pub(crate) use common_builder;

/// The dedupe setters of a consumer's builder with a `dedupe` field ([`DedupeChoice`]).
macro_rules! dedupe_setters {
    ($builder:ident) => {
        impl $builder {
            /// Replace the default deduplicator (a [`MemoryDeduplicator`](crate::dedupe::MemoryDeduplicator)
            /// with default settings). Give consumer instances of one group a shared store to dedupe across
            /// instances.
            pub fn deduplicator(
                mut self,
                dedupe: std::sync::Arc<dyn $crate::dedupe::Deduplicator>,
            ) -> Self {
                self.dedupe.store = Some(Some(dedupe));
                self
            }

            /// Turn dedupe off: every message either cluster delivers reaches the application.
            pub fn without_dedupe(mut self) -> Self {
                self.dedupe.store = Some(None);
                self
            }

            /// Replace the dedupe key (default: [`UniqKey`](crate::dedupe::UniqKey), the client unique key).
            pub fn key_extractor(
                mut self,
                key: std::sync::Arc<dyn $crate::dedupe::KeyExtractor>,
            ) -> Self {
                self.dedupe.key = Some(key);
                self
            }
        }
    };
}
pub(crate) use dedupe_setters;

/// Settings a migrating builder mirrors one to one from its raw builder, declared once: `$settings` (one `Option`
/// per setting); the macro `$apply!(settings, raw_builder)` that calls the raw builder's setter of each setting
/// given and yields the raw builder (a macro, not a method: a raw builder type such as `DefaultMQProducer`'s cannot
/// be named); and the macro `$setters!(Builder, field)` that gives a migrating builder a setter per setting, stored
/// in `self.settings.field`. Both macros are importable from the module that declares the settings.
macro_rules! mirrored_settings {
    (
        $(#[$meta:meta])*
        struct $settings:ident via $apply:ident, $setters:ident {
            $( $(#[$doc:meta])* $name:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Default)]
        pub(crate) struct $settings {
            $( pub(crate) $name: Option<$ty>, )*
        }

        macro_rules! $apply {
            ($s:expr, $b:expr) => {{
                let mut b = $b;
                $( if let Some(v) = &$s.$name { b = b.$name(v.clone()); } )*
                b
            }};
        }
        #[allow(unused_imports)]
        pub(crate) use $apply;

        macro_rules! $setters {
            ($builder:ident, $field:ident) => {
                impl $builder {
                    $(
                        $(#[$doc])*
                        pub fn $name(mut self, $name: $ty) -> Self {
                            self.settings.$field.$name = Some($name);
                            self
                        }
                    )*
                }
            };
        }
        #[allow(unused_imports)]
        pub(crate) use $setters;
    };
}
pub(crate) use mirrored_settings;
