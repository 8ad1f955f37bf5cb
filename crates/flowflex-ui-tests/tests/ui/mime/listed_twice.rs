use flowflex::{Attachment, FlowFlexEvent};
use serde::Serialize;

#[derive(Serialize, FlowFlexEvent)]
struct Twice {
    #[flowflex(mime("image/*", "image/png"))]
    a: Attachment,
    #[flowflex(mime("application/pdf", "APPLICATION/PDF"))]
    b: Attachment,
}

fn main() {}
