use flowflex::{Attachment, FlowFlexEvent};
use serde::Serialize;

#[derive(Serialize)]
struct Wire {
    file: Attachment,
}

#[derive(Clone, Serialize, FlowFlexEvent)]
#[serde(into = "Wire")]
struct Domain {
    file: Attachment,
}

impl From<Domain> for Wire {
    fn from(d: Domain) -> Wire {
        Wire { file: d.file }
    }
}

fn main() {}
