use flowflex::{Attachment, FlowFlexEvent};
use serde::Serialize;

#[derive(Serialize, FlowFlexEvent)]
struct Fonts {
    #[flowflex(mime = "font/*")]
    font: Attachment,
}

fn main() {}
