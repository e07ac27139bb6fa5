//! Reading a process's `/metrics`.

/// The value of the sample `name` (a counter's `_total`, a histogram's `_count` or `_sum`, a
/// gauge) in the `/metrics` of the process at `address`; 0 when it is not there yet.
pub async fn metric(address: &str, name: &str) -> f64 {
    let text = crate::http()
        .get(format!("http://{address}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok()).unwrap_or(0.0)
}
