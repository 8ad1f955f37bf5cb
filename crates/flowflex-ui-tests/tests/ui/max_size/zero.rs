use flowflex::{Attachment, FlowFlexEvent};
use serde::Serialize;

#[derive(Serialize, FlowFlexEvent)]
struct Zero {
    #[flowflex(max_size = "0 KB")]
    a: Attachment,
    #[flowflex(max_size = 0)]
    b: Attachment,
}

fn main() {}
