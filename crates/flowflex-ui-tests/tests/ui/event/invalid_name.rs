use flowflex::{Attachment, FlowFlexEvent};
use serde::Serialize;

#[derive(Serialize, FlowFlexEvent)]
#[flowflex(event = "")]
struct Empty {
    file: Attachment,
}

#[derive(Serialize, FlowFlexEvent)]
#[flowflex(event = "   ")]
struct Blank {
    file: Attachment,
}

// Inner spaces are fine; at either end, HTTP would drop them.
#[derive(Serialize, FlowFlexEvent)]
#[flowflex(event = "order shipped ")]
struct TrailingSpace {
    file: Attachment,
}

#[derive(Serialize, FlowFlexEvent)]
#[flowflex(event = "order\nshipped")]
struct Control {
    file: Attachment,
}

#[derive(Serialize, FlowFlexEvent)]
#[flowflex(event = "pedido.envïado")]
struct NonAscii {
    file: Attachment,
}

#[derive(Serialize, FlowFlexEvent)]
#[flowflex(event = order.shipped)]
struct Unquoted {
    file: Attachment,
}

#[derive(Serialize, FlowFlexEvent)]
#[flowflex(event)]
struct Missing {
    file: Attachment,
}

fn main() {}
