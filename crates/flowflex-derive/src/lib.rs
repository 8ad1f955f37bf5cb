//! Procedural macros for the `flowflex` crate: `#[derive(FlowFlexEvent)]`
//! and `include_attachment!`. Use them through `flowflex`, which re-exports
//! them and holds the traits and types their expansions name.
//!
//! Each pass has its own module: `ast` builds the typed input, `attr` parses
//! `#[flowflex(..)]` and the `#[serde(..)]` keys that move fields, `valid`
//! checks the whole, `expand` generates. Errors are collected (`ctxt`) and
//! reported together, each at the user's token, beside a stub of the impls.

mod ast;
mod attr;
mod bound;
mod case;
mod ctxt;
mod expand;
mod include;
mod mime;
mod symbol;
mod ty;
mod valid;

#[cfg(test)]
mod tests;

/// Compiles the Rust examples of the derive's guides.
#[cfg(doctest)]
mod guides {
    #[doc = include_str!("../../../docs/derive.md")]
    struct Derive;
    #[doc = include_str!("../../../docs/testing-your-events.md")]
    struct TestingYourEvents;
}

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// See `flowflex::FlowFlexEvent`.
#[proc_macro_derive(FlowFlexEvent, attributes(flowflex))]
pub fn derive_flowflex_event(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}

/// See `flowflex::include_attachment!`.
#[proc_macro]
pub fn include_attachment(input: TokenStream) -> TokenStream {
    include::expand(input.into()).into()
}
