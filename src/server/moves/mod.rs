//! Changes to the table and the task, and the checks they pass first: the readiness gates of a phase move
//! ([`gates`]), a move planned and applied ([`plan`]), phase moves ([`phases`]), the other topic changes
//! ([`topics`]), the adoption of a diverged table ([`adopt`]), and the migration task's steps ([`task`], with their
//! conditions in [`steps`]).

pub(crate) mod adopt;
pub(crate) mod gates;
pub(crate) mod phases;
pub(crate) mod plan;
pub(crate) mod steps;
pub(crate) mod task;
pub(crate) mod topics;
