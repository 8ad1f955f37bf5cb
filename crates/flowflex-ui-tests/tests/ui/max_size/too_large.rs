use flowflex::{Attachment, FlowFlexEvent};
use serde::Serialize;

#[derive(Serialize, FlowFlexEvent)]
struct Big {
    #[flowflex(max_size = "30 MB")]
    a: Attachment,
    #[flowflex(max_size = 26_214_401)]
    b: Attachment,
    #[flowflex(max_size = "1 GiB")]
    c: Attachment,
}

fn main() {}
