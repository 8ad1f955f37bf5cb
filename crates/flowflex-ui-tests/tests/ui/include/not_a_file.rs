fn main() {
    let _ = flowflex::include_attachment!("fixtures");
    let _ = flowflex::include_attachment!("");
}
