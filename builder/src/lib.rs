//! rbuild-builder: the Dockerfile frontend, build plans, snapshots and step execution.
pub mod context;
pub mod copy;
pub mod run;
pub mod snapshot;
pub mod sys;
pub mod dockerfile;
pub mod plan;
pub mod build;
