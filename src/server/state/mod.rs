//! The server's state: the phase table and the task with their state file ([`table`]), the audit trail
//! ([`audit`]), the durable writes both make ([`disk`]), and the clients that hold a newer table ([`divergence`]).

pub(crate) mod audit;
pub(crate) mod disk;
pub(crate) mod divergence;
pub(crate) mod table;
