//! End-to-end tests of the `rbuild` binary (one test binary, helpers in `util`).

mod build;
mod build_registry;
mod copy_flags;
mod differential;
mod inspect;
mod push_pull;
mod registry_harness;
mod regression;
mod run_mounts;
mod store_cli;
mod util;
