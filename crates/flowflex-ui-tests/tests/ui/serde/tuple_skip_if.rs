use flowflex::{Attachment, FlowFlexEvent};
use serde::Serialize;

#[derive(Serialize, FlowFlexEvent)]
struct Pair(
    #[serde(skip_serializing_if = "Option::is_none")] Option<Attachment>,
    Attachment,
);

fn main() {}
