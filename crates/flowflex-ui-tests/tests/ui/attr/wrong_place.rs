use flowflex::{Attachment, FlowFlexEvent};
use serde::Serialize;

#[derive(Serialize, FlowFlexEvent)]
#[flowflex(mime = "application/pdf")]
struct Shipped {
    #[flowflex(event = "order.shipped")]
    invoice: Attachment,
}

fn main() {}
