//! Errors of build planning: an unknown `--target`, or a stage graph BuildKit would refuse.

use crate::dockerfile::error::did_you_mean;
use crate::dockerfile::Location;

/// Why a [`super::BuildPlan`] could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// `--target` names no stage.
    #[error("target stage {name:?} could not be found{}", did_you_mean(suggestion))]
    UnknownTarget {
        /// The requested target.
        name: String,
        /// The closest stage name, if one is close.
        suggestion: Option<String>,
    },
    /// A problem at a place in the Dockerfile.
    #[error("{at}: {kind}")]
    At {
        /// File and lines at fault.
        at: Location,
        /// What is wrong.
        kind: PlanErrorKind,
    },
}

/// What is wrong with the stage graph at a location.
#[derive(Debug, thiserror::Error)]
pub enum PlanErrorKind {
    /// The expansion callback failed on a FROM word.
    #[error("expanding {word:?}: {source}")]
    Expand {
        /// The raw word.
        word: String,
        /// The expander's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// FROM's image expanded to nothing.
    #[error("base name ({word}) should not be blank")]
    BlankBase {
        /// The raw word.
        word: String,
    },
    /// `--platform` expanded to nothing.
    #[error("empty platform value from expression {word}")]
    EmptyPlatform {
        /// The raw word.
        word: String,
    },
    /// `COPY --from=$X` (BuildKit does not expand --from).
    #[error("variable expansion is not supported for --from={value}, define a new stage with FROM using ARG from global scope as a workaround")]
    FromVariable {
        /// The flag value.
        value: String,
    },
    /// `COPY --from=N` with N not a stage index.
    #[error("invalid stage index {index} in --from (the Dockerfile has {count} stages, numbered from 0)")]
    InvalidStageIndex {
        /// The index given.
        index: String,
        /// How many stages there are.
        count: usize,
    },
    /// A stage uses a stage defined after it.
    #[error("cannot {verb} from stage {from:?}, it needs to be defined before current stage {current:?} (it is defined at line {defined_at})")]
    ForwardReference {
        /// `copy` or `mount`.
        verb: &'static str,
        /// The referenced stage.
        from: String,
        /// The stage making the reference.
        current: String,
        /// Where the referenced stage starts.
        defined_at: usize,
    },
    /// Stages that depend on each other.
    #[error("dependency cycle between stages: {path}")]
    Cycle {
        /// The cycle, e.g. `a -> b -> a`.
        path: String,
    },
}
