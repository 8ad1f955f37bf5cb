use flowflex::{Attachment, FlowFlexEvent};
use serde::Serialize;

#[derive(Serialize, FlowFlexEvent)]
struct Unquoted {
    #[flowflex(mime = image/png)]
    a: Attachment,
    #[flowflex(mime("image/png", 42))]
    b: Attachment,
}

fn main() {}
