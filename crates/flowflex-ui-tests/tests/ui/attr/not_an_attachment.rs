use flowflex::{Attachment, FlowFlexEvent};
use serde::Serialize;

#[derive(Serialize, FlowFlexEvent)]
struct Order {
    receipt: Attachment,
}

type Files = Vec<Attachment>;

#[derive(Serialize, FlowFlexEvent)]
#[flowflex(event = "order.shipped")]
struct Shipped {
    #[flowflex(mime = "text/plain")]
    note: String,
    #[flowflex(max_size = "1 MB")]
    order: Order,
    #[flowflex(mime = "image/png")]
    aliased: Files,
}

fn main() {}
