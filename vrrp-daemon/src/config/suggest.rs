//! "did you mean X?": the nearest known name to a misspelt one.
//!
//! Typos in keepalived.conf are silent in keepalived (an unknown keyword is logged and
//! skipped), so a misspelt `nopreempt` quietly changes failover behaviour. Naming the
//! keyword that was probably meant turns that into a one-line fix.

/// The candidate closest to `word`, if one is close enough to be a likely typo: within an
/// edit distance (with transpositions) of a third of the word's length (at least 1, at most
/// 3), compared case-insensitively; failing that, a candidate that is a prefix of `word` or
/// that `word` is a prefix of (`advert_interval` → `advert_int`).
pub(super) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word = word.to_lowercase();
    let limit = (word.chars().count() / 3).clamp(1, 3);
    let mut best_distance: Option<(usize, &str)> = None;
    let mut best_prefix: Option<(usize, &str)> = None;
    for candidate in candidates {
        let lower = candidate.to_lowercase();
        let distance = edit_distance(&word, &lower);
        if distance <= limit && best_distance.is_none_or(|(d, _)| distance < d) {
            best_distance = Some((distance, candidate));
        }
        let (short, long) = if lower.len() <= word.len() {
            (&lower, &word)
        } else {
            (&word, &lower)
        };
        let gap = long.len() - short.len();
        if short.len() >= 5
            && long.starts_with(short.as_str())
            && best_prefix.is_none_or(|(g, _)| gap < g)
        {
            best_prefix = Some((gap, candidate));
        }
    }
    best_distance.or(best_prefix).map(|(_, c)| c)
}

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of
/// two neighbours each cost 1 (`priorty`, `prioirty` → `priority` are 1 away).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j]: distance between a[..i] and b[..j]; only three rows are live at a time.
    let mut prev2 = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(prev2[j - 2] + 1);
            }
            cur[j] = d;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const INSTANCE: &[&str] = &[
        "state",
        "interface",
        "virtual_router_id",
        "priority",
        "advert_int",
        "nopreempt",
        "preempt",
        "preempt_delay",
        "notify_master",
        "notify",
    ];

    #[test]
    fn distances() {
        assert_eq!(edit_distance("priority", "priority"), 0);
        assert_eq!(edit_distance("priorty", "priority"), 1);
        assert_eq!(edit_distance("prioirty", "priority"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            did_you_mean("priorty", INSTANCE.iter().copied()),
            Some("priority")
        );
        assert_eq!(
            did_you_mean("Priority", INSTANCE.iter().copied()),
            Some("priority")
        );
        assert_eq!(
            did_you_mean("no_preempt", INSTANCE.iter().copied()),
            Some("nopreempt")
        );
        assert_eq!(
            did_you_mean("virtual_router", INSTANCE.iter().copied()),
            Some("virtual_router_id")
        );
        assert_eq!(
            did_you_mean("advert_interval", INSTANCE.iter().copied()),
            Some("advert_int")
        );
        assert_eq!(
            did_you_mean("interfaces", INSTANCE.iter().copied()),
            Some("interface")
        );
        assert_eq!(
            did_you_mean("stat", INSTANCE.iter().copied()),
            Some("state")
        );
        assert_eq!(did_you_mean("garbage", INSTANCE.iter().copied()), None);
        assert_eq!(did_you_mean("x", INSTANCE.iter().copied()), None);
    }
}
