//! builder: work in progress; see the issues.
