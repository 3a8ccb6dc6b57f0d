//! The neutral vocabulary that the engine and the providers share: canonical fields,
//! remote records, changes, error classes, write context and typed identities. It imports
//! neither `engine` nor `provider`, so the two never import each other's internals.

pub mod error;
pub mod field;
pub mod ids;
pub mod record;

pub use error::{ErrorClass, RemoteError};
pub use field::Field;
pub use ids::{ObjectKey, RegistryId};
pub use record::{Change, RemoteRecord, WriteContext};
