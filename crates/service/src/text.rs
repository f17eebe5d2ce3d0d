//! Small text helpers shared by the use cases.

/// `s` cut to at most `max` bytes, on a character boundary (platform messages and receiver
/// answers are kept briefly in events and logs).
pub(crate) fn truncated(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_on_a_character_boundary() {
        assert_eq!(truncated("héllo".into(), 2), "h");
        assert_eq!(truncated("héllo".into(), 3), "hé");
        assert_eq!(truncated("ok".into(), 10), "ok");
    }
}
