//! `__mime_table!()`: the macros' copy of the MIME table, as an array of
//! `(essence, flowflex::Mime, extensions, label)`.

use proc_macro2::{Span, TokenStream};
use quote::quote;

use crate::mime::TABLE;

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    if !input.is_empty() {
        return syn::Error::new_spanned(input, "__mime_table!() takes no input").to_compile_error();
    }
    let rows = TABLE.iter().map(|m| {
        let essence = m.essence;
        let variant = syn::Ident::new(m.variant, Span::call_site());
        let extensions = m.extensions;
        let label = m.label;
        quote!((#essence, ::flowflex::Mime::#variant, &[#(#extensions),*] as &[&str], #label))
    });
    quote!([#(#rows),*])
}
