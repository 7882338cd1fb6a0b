//! Files named on the command line: reading them, and the error that names the option when one cannot be read or
//! written.

use std::path::Path;

use rocketmq_migration::{ConfigError, ConfigErrorKind, MigrationError};

/// The error for the file `path` that option `field` names: it `reason` (`cannot be read`, `cannot be written`),
/// caused by `e`.
pub(crate) fn file_error(
    field: &str,
    path: &Path,
    reason: &str,
    e: std::io::Error,
) -> MigrationError {
    MigrationError::from(ConfigError::new(
        ConfigErrorKind::InvalidValue,
        field,
        path.display().to_string(),
        reason,
    ))
    .with_source(e)
}

/// The text of the file `path` that option `field` names.
pub(crate) fn read_text(field: &str, path: &Path) -> Result<String, MigrationError> {
    std::fs::read_to_string(path).map_err(|e| file_error(field, path, "cannot be read", e))
}
