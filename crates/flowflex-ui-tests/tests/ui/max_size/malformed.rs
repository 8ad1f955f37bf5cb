use flowflex::{Attachment, FlowFlexEvent};
use serde::Serialize;

#[derive(Serialize, FlowFlexEvent)]
struct Malformed {
    #[flowflex(max_size = "ten MB")]
    a: Attachment,
    #[flowflex(max_size = "10 MBs")]
    b: Attachment,
    #[flowflex(max_size = "0.5 B")]
    c: Attachment,
    #[flowflex(max_size = true)]
    d: Attachment,
    #[flowflex(max_size = -1)]
    e: Attachment,
    #[flowflex(max_size)]
    f: Attachment,
}

fn main() {}
