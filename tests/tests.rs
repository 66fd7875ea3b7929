//! End-to-end tests of the `rbuild` binary (one test binary, helpers in `util`).

mod build;
mod inspect;
mod store_cli;
mod util;
