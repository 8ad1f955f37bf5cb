use flowflex::{Attachment, Client, FlowFlexEvent};
use serde::Serialize;

// Without `event`, a struct is a part of events: it cannot be sent alone.
#[derive(Serialize, FlowFlexEvent)]
struct Order {
    receipt: Attachment,
}

async fn send(order: &Order, client: &Client) {
    let _ = Order::EVENT;
    let _ = order.send(client).await;
}

fn main() {}
