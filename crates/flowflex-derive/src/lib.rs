//! Procedural macros for the `flowflex` crate. Use them through `flowflex`.
