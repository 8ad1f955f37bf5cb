use flowflex::{Attachment, FlowFlexEvent};
use serde::Serialize;

#[derive(Serialize, FlowFlexEvent)]
struct Photos {
    #[flowflex(mime = "image/jpg")]
    cover: Attachment,
    #[flowflex(mime("image/png", "audio/mp3", "application/pfd"))]
    extras: Vec<Attachment>,
}

fn main() {}
