//! Turning reply frames into the text redis-cli prints.
pub mod format;
pub mod repr;
