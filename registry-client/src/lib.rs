//! registry-client: work in progress; see the issues.
