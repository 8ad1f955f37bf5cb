use flowflex::{Attachment, FlowFlexEvent};
use serde::Serialize;

#[derive(Serialize, FlowFlexEvent)]
#[flowflex(event = "")]
struct Empty {
    file: Attachment,
}

#[derive(Serialize, FlowFlexEvent)]
#[flowflex(event = "order shipped")]
struct Spaced {
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
