use flowflex::{Attachment, FlowFlexEvent};
use serde::{Serialize, Serializer};

fn first_only<S: Serializer>(files: &[Attachment], s: S) -> Result<S::Ok, S::Error> {
    files.first().serialize(s)
}

mod as_list {
    pub fn serialize<S: serde::Serializer>(
        file: &flowflex::Attachment,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(&[file], s)
    }
}

#[derive(Serialize, FlowFlexEvent)]
struct Custom {
    #[serde(serialize_with = "first_only")]
    files: Vec<Attachment>,
    #[serde(with = "as_list")]
    one: Attachment,
    // A custom serializer for a field without attachments is fine.
    #[serde(serialize_with = "as_upper")]
    name: String,
}

fn as_upper<S: Serializer>(name: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&name.to_uppercase())
}

fn main() {}
