use flowflex::{Attachment, FlowFlexEvent};
use serde::Serialize;

#[derive(Serialize, FlowFlexEvent)]
#[flowflex(event = "pair")]
struct Pair(Attachment, Attachment);

#[derive(Serialize, FlowFlexEvent)]
#[flowflex(event = "scan")]
struct Scan(Attachment);

#[derive(Serialize, FlowFlexEvent)]
#[flowflex(event = "ping")]
struct Ping;

fn main() {}
