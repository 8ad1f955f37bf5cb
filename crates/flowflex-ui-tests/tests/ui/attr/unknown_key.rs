use flowflex::{Attachment, FlowFlexEvent};
use serde::Serialize;

#[derive(Serialize, FlowFlexEvent)]
#[flowflex(evnt = "order.shipped", colour = "blue")]
struct Shipped {
    #[flowflex(mim = "application/pdf", maxsize = "1 MB", required)]
    invoice: Attachment,
}

fn main() {}
