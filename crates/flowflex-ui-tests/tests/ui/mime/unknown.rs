use flowflex::{Attachment, FlowFlexEvent};
use serde::Serialize;

#[derive(Serialize, FlowFlexEvent)]
struct Animation {
    #[flowflex(mime = "image/gif")]
    gif: Attachment,
}

fn main() {}
