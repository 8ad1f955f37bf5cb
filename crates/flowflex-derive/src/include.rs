//! `include_attachment!("assets/logo.png")`: a file compiled into the
//! binary, checked now instead of at the first send.

use std::path::{Path, PathBuf};

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::LitStr;
use syn::parse::{Parse, ParseStream};

use flowflex_core::sniff::{self, SNIFF_LEN};
use flowflex_core::{MAX_FILE_BYTES, Mime};

use crate::mime;

struct Input {
    path: LitStr,
}

impl Parse for Input {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let path = input.parse::<LitStr>().map_err(|err| {
            syn::Error::new(
                err.span(),
                "expected the file's path as a string, relative to the crate's Cargo.toml: `include_attachment!(\"assets/logo.png\")`",
            )
        })?;
        input.parse::<Option<syn::Token![,]>>()?;
        if !input.is_empty() {
            return Err(input.error(
                "include_attachment! takes one path: `include_attachment!(\"assets/logo.png\")`",
            ));
        }
        Ok(Input { path })
    }
}

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let krate = quote!(::flowflex);
    let input: Input = match syn::parse2(input) {
        Ok(input) => input,
        Err(err) => return with_stub(&err, &krate),
    };
    match resolve(&input.path) {
        Ok(file) => {
            let absolute = file.absolute;
            let filename = file.filename;
            let variant = syn::Ident::new(file.mime.variant_name(), Span::call_site());
            quote! {
                #krate::Attachment::__from_static(
                    ::core::include_bytes!(#absolute),
                    #filename,
                    #krate::Mime::#variant,
                )
            }
        }
        Err(msg) => with_stub(&syn::Error::new(input.path.span(), msg), &krate),
    }
}

/// The error, and a value of the right type so the code around the macro
/// reports nothing more.
fn with_stub(err: &syn::Error, krate: &TokenStream) -> TokenStream {
    let err = err.to_compile_error();
    quote! {{
        #err
        #krate::Attachment::__from_static(b"", "", #krate::Mime::Txt)
    }}
}

struct Resolved {
    absolute: String,
    filename: String,
    mime: Mime,
}

fn resolve(lit: &LitStr) -> Result<Resolved, String> {
    let written = lit.value();
    if written.is_empty() {
        return Err("the path is empty: give the file's path relative to the crate's Cargo.toml, e.g. \"assets/logo.png\"".to_owned());
    }
    let base = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(PathBuf::new, PathBuf::from);
    let path = base.join(&written);
    let shown = path.display();
    let metadata = std::fs::metadata(&path).map_err(|err| {
        if err.kind() == std::io::ErrorKind::NotFound {
            format!(
                "cannot find `{written}` (looked for {shown}); the path is relative to the directory of the crate's Cargo.toml"
            )
        } else {
            format!("cannot read `{written}` ({shown}): {err}")
        }
    })?;
    if !metadata.is_file() {
        return Err(format!("`{written}` is not a file ({shown})"));
    }
    let filename = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("the file name of `{written}` is not valid UTF-8: rename it"))?
        .to_owned();
    let mime = mime_of(&written, &filename)?;
    if metadata.len() > MAX_FILE_BYTES {
        return Err(format!(
            "`{written}` is {} bytes, over the {} FlowFlex stores: use a smaller file",
            flowflex_core::size::grouped(metadata.len()),
            flowflex_core::size::MAX_FILE_SIZE
        ));
    }
    let bytes = std::fs::read(&path).map_err(|err| format!("cannot read `{written}`: {err}"))?;
    // The first bytes, as a send reads them: the same check on the same bytes.
    let head = &bytes[..bytes.len().min(SNIFF_LEN)];
    if let Err(mismatch) = sniff::check(mime, head) {
        let found = match (mismatch.empty, mismatch.detected) {
            (true, _) => "it is empty".to_owned(),
            (false, Some(what)) => format!("its bytes are not one, it looks like {what}"),
            (false, None) => "its bytes are not one".to_owned(),
        };
        return Err(format!(
            "`{written}` is named as a {} ({mime}) but {found}: FlowFlex would refuse it; give it the right extension, or include the right file",
            mime.label()
        ));
    }
    let absolute = absolute(&path)
        .to_str()
        .ok_or_else(|| format!("the path of `{written}` is not valid UTF-8: move or rename it"))?
        .to_owned();
    Ok(Resolved {
        absolute,
        filename,
        mime,
    })
}

fn mime_of(written: &str, filename: &str) -> Result<Mime, String> {
    let Some((_, extension)) = filename.rsplit_once('.') else {
        return Err(format!(
            "`{written}` has no extension, so its type is unknown; FlowFlex accepts files ending in: {}",
            mime::all_extensions()
        ));
    };
    Mime::from_extension(extension).ok_or_else(|| {
        format!(
            "`{written}`: `.{extension}` files are not a type FlowFlex accepts; it accepts: {}",
            mime::all_extensions()
        )
    })
}

/// `include_bytes!` of an absolute path: the build depends on the file, and
/// the path means the same wherever the expansion lands.
fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}
