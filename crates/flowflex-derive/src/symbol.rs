//! Attribute names, as constants compared against parsed paths.

use std::fmt::{self, Display};

use syn::{Ident, Path};

#[derive(Copy, Clone, PartialEq, Eq)]
pub(crate) struct Symbol(pub(crate) &'static str);

// Attribute namespaces.
pub(crate) const FLOWFLEX: Symbol = Symbol("flowflex");
pub(crate) const SERDE: Symbol = Symbol("serde");

// `#[flowflex(..)]` on the struct.
pub(crate) const EVENT: Symbol = Symbol("event");
pub(crate) const BOUND: Symbol = Symbol("bound");
pub(crate) const CRATE: Symbol = Symbol("crate");
pub(crate) const CONTAINER_KEYS: &[Symbol] = &[EVENT, BOUND, CRATE];

// `#[flowflex(..)]` on a field.
pub(crate) const MIME: Symbol = Symbol("mime");
pub(crate) const MAX_SIZE: Symbol = Symbol("max_size");
pub(crate) const FIELD_KEYS: &[Symbol] = &[MIME, MAX_SIZE];

// The `#[serde(..)]` keys that decide where a field lands in the JSON.
pub(crate) const RENAME: Symbol = Symbol("rename");
pub(crate) const RENAME_ALL: Symbol = Symbol("rename_all");
pub(crate) const SERIALIZE: Symbol = Symbol("serialize");
pub(crate) const SKIP: Symbol = Symbol("skip");
pub(crate) const SKIP_SERIALIZING: Symbol = Symbol("skip_serializing");
pub(crate) const SKIP_SERIALIZING_IF: Symbol = Symbol("skip_serializing_if");
pub(crate) const FLATTEN: Symbol = Symbol("flatten");
pub(crate) const TRANSPARENT: Symbol = Symbol("transparent");
pub(crate) const INTO: Symbol = Symbol("into");
pub(crate) const WITH: Symbol = Symbol("with");
pub(crate) const SERIALIZE_WITH: Symbol = Symbol("serialize_with");

impl PartialEq<Symbol> for Ident {
    fn eq(&self, word: &Symbol) -> bool {
        self == word.0
    }
}

impl PartialEq<Symbol> for &Ident {
    fn eq(&self, word: &Symbol) -> bool {
        *self == word.0
    }
}

impl PartialEq<Symbol> for Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl PartialEq<Symbol> for &Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl Display for Symbol {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.0)
    }
}
