//! The pure core: desired fields, diff, plan, fingerprints, next status. No I/O, no clock.

pub mod field;
