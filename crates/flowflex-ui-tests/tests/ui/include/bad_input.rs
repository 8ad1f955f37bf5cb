fn main() {
    let _ = flowflex::include_attachment!(logo.png);
    let _ = flowflex::include_attachment!("a.png", "b.png");
    let _ = flowflex::include_attachment!();
}
