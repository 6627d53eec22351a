//! Conversion between core's values and the neutral RDB model.
