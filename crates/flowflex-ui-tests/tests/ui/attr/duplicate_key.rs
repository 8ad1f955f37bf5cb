use flowflex::{Attachment, FlowFlexEvent};
use serde::Serialize;

#[derive(Serialize, FlowFlexEvent)]
#[flowflex(event = "order.shipped")]
#[flowflex(event = "order.sent")]
struct Shipped {
    #[flowflex(mime = "application/pdf", mime = "image/png")]
    invoice: Attachment,
    #[flowflex(max_size = "1 MB")]
    #[flowflex(max_size = "2 MB")]
    label: Attachment,
}

fn main() {}
