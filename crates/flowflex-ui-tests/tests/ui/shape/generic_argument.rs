use flowflex::{Attachment, FlowFlexEvent};
use serde::Serialize;

#[derive(Serialize, FlowFlexEvent)]
struct Wrapper<T> {
    inner: T,
}

// Holds an attachment but does not derive FlowFlexEvent.
#[derive(Serialize)]
struct Opaque {
    file: Attachment,
}

fn paths<T: FlowFlexEvent>() -> Vec<String> {
    T::attachment_paths()
}

fn main() {
    paths::<Wrapper<Opaque>>();
}
