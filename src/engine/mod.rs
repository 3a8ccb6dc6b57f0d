//! The pure core: desired fields, diff, plan, fingerprints, next status. No I/O, no clock,
//! no randomness: `now` and salts are passed in, so every rule is a table-driven test.

pub mod desired;
/// The canonical fields (moved to [`crate::vocab::field`]; this path stays for callers).
pub mod field {
    pub use crate::vocab::field::*;
}
pub mod fingerprint;
pub mod guard;
pub mod lifecycle;
pub mod plan;
pub mod schedule;
pub mod status;

pub use desired::{Desired, ResolvedSecrets, SecretNeed, SpecError, desired, secret_needs};
pub use field::Field;
pub use plan::{
    Action, DecideInput, Decision, FieldDiff, Observation, Refusal, Target, decide, target,
    validate,
};
pub use status::{Outcome, Report, material_change, next_status, with_pending_create};

#[cfg(test)]
mod tests;
