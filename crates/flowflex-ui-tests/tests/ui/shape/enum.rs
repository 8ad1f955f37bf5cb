use flowflex::{Attachment, FlowFlexEvent};
use serde::Serialize;

#[derive(Serialize, FlowFlexEvent)]
enum Media {
    Photo(Attachment),
    Document { file: Attachment },
}

fn main() {}
