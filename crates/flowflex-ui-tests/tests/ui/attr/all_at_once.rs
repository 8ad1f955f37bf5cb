// Every mistake is reported in one build, and nothing else: the struct
// still has `EVENT` and `send`, so the code using it adds no errors.
use flowflex::{Attachment, Client, FlowFlexEvent};
use serde::Serialize;

#[derive(Serialize, FlowFlexEvent)]
#[flowflex(event = "order\tshipped")]
struct Shipped {
    #[flowflex(mime = "image/jpg", max_size = "30 MB")]
    photo: Attachment,
    #[flowflex(mime = "text/plain")]
    note: String,
    #[flowflex(maxsize = "1 MB")]
    label: Attachment,
}

async fn send(event: &Shipped, client: &Client) -> flowflex::Result<()> {
    let _: &str = Shipped::EVENT;
    let _: Vec<String> = Shipped::attachment_paths();
    event.send(client).await?;
    Ok(())
}

fn main() {}
