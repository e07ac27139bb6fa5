//! The domain's nouns and their identifiers.

pub mod ids;
pub mod secret;
pub mod status;
