use flowflex::{Attachment, FlowFlexEvent};
use serde::Serialize;

#[derive(Serialize, FlowFlexEvent)]
struct Nothing {
    #[flowflex(mime())]
    a: Attachment,
    #[flowflex(mime)]
    b: Attachment,
}

fn main() {}
