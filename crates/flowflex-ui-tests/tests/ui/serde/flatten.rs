use flowflex::{Attachment, FlowFlexEvent};
use serde::Serialize;

#[derive(Serialize, FlowFlexEvent)]
struct Flattened {
    #[serde(flatten)]
    file: Option<Attachment>,
    #[serde(flatten)]
    files: Vec<Attachment>,
}

fn main() {}
