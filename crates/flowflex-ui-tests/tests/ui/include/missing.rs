fn main() {
    let _ = flowflex::include_attachment!("assets/missing-logo.png");
}
