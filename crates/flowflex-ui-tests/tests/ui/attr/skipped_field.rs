use flowflex::{Attachment, FlowFlexEvent};
use serde::Serialize;

#[derive(Serialize, FlowFlexEvent)]
struct Draft {
    #[serde(skip)]
    #[flowflex(mime = "application/pdf")]
    local_copy: Option<Attachment>,
    #[serde(skip_serializing)]
    #[flowflex(max_size = "1 MB")]
    cache: Option<Attachment>,
}

fn main() {}
