//! rbuild-builder: the Dockerfile frontend, build plans, snapshots and step execution.
pub mod build;
pub mod context;
pub mod copy;
pub mod dockerfile;
pub mod plan;
pub mod run;
pub mod snapshot;
pub mod sys;
