fn main() {
    let _ = flowflex::include_attachment!("fixtures/huge.pdf");
}
