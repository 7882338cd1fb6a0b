//! Free loopback ports.

use std::net::TcpListener;

use crate::error::{MigrationError, ToolErrorKind};

fn bind_err(e: std::io::Error) -> MigrationError {
    MigrationError::new(ToolErrorKind::Cluster, None, "no free loopback port").with_source(e)
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> Result<u16, MigrationError> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(bind_err)?;
    Ok(l.local_addr().map_err(bind_err)?.port())
}

/// A port `p` such that `p` and `p - 2` are both free: a broker listens on `p` and on its fast port `p - 2`.
pub fn free_port_pair() -> Result<u16, MigrationError> {
    for _ in 0..1000 {
        let l = TcpListener::bind("127.0.0.1:0").map_err(bind_err)?;
        let p = l.local_addr().map_err(bind_err)?.port();
        if p > 1026 && TcpListener::bind(("127.0.0.1", p - 2)).is_ok() {
            return Ok(p);
        }
    }
    Err(MigrationError::new(
        ToolErrorKind::Cluster,
        None,
        "no free loopback port pair (p, p-2) after 1000 tries",
    ))
}
