//! How every example ends: `error: ...` and `hint: ...` on stderr, never a
//! `Debug` dump, which would bury the SDK's advice in struct syntax.
//!
//! In your own program, do the same where an error reaches the user: print
//! `flowflex::Error` with `{}` (`Display` says what happened and what to do).

use std::process::ExitCode;

/// What `main` returns: success, or the error and a hint on stderr.
pub(crate) fn exit(result: Result<(), Box<dyn std::error::Error>>) -> ExitCode {
    let Err(err) = result else {
        return ExitCode::SUCCESS;
    };
    eprintln!("error: {err}");
    match err.downcast_ref::<flowflex::Error>() {
        Some(sdk) => {
            if let (true, Some(key)) = (sdk.is_retryable(), sdk.idempotency_key()) {
                eprintln!(
                    "hint: this may pass later; send again with idempotency key {key} so the flow fires once"
                );
            } else if std::env::var_os("FLOWFLEX_BASE_URL").is_some() {
                eprintln!(
                    "hint: FLOWFLEX_BASE_URL is set, so this ran against that server; unset it to use the in-process emulator"
                );
            } else {
                eprintln!("hint: set RUST_LOG=flowflex=debug to watch each request");
            }
        }
        None => {
            let mut source = err.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            eprintln!("hint: set RUST_LOG=debug for details");
        }
    }
    ExitCode::FAILURE
}
