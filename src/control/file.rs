//! Durable replacement of small JSON files (the server's state file, the client's cache file).

use std::io::Write;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{ErrorKind, MigrationError};

/// Write `value` as pretty JSON to `path` by writing a sibling temp file, syncing it and renaming it over `path`,
/// so a reader (or a crash) sees either the old content or the new, never a mix.
pub(crate) fn replace_json<T: Serialize>(path: &Path, value: &T) -> Result<(), MigrationError> {
    let fail = |what: &str, e: std::io::Error| {
        MigrationError::new(
            ErrorKind::Storage,
            None,
            format!("{what} {}", path.display()),
        )
        .with_source(e)
    };
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| {
        MigrationError::new(
            ErrorKind::Storage,
            None,
            format!("encode {}", path.display()),
        )
        .with_source(e)
    })?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp).map_err(|e| fail("create temp file for", e))?;
    f.write_all(&bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| fail("write temp file for", e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail("replace", e)
    })?;
    // Make the rename itself durable.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Read JSON from `path`; `Ok(None)` when the file does not exist.
pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, MigrationError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(MigrationError::new(
                ErrorKind::Storage,
                None,
                format!("read {}", path.display()),
            )
            .with_source(e))
        }
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        MigrationError::new(
            ErrorKind::Storage,
            None,
            format!("parse {} (not the expected JSON document)", path.display()),
        )
        .with_source(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_then_read_round_trips_and_leaves_no_temp_file() {
        let dir = std::env::temp_dir().join(format!("rmq-file-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json");
        assert_eq!(read_json::<Vec<u32>>(&path).unwrap(), None);
        replace_json(&path, &vec![1u32, 2]).unwrap();
        replace_json(&path, &vec![3u32]).unwrap();
        assert_eq!(read_json::<Vec<u32>>(&path).unwrap(), Some(vec![3]));
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        std::fs::write(&path, b"{not json").unwrap();
        let err = read_json::<Vec<u32>>(&path).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Storage);
        assert!(err.to_string().contains("state.json"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
