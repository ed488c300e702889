//! "Did you mean …?" for unknown keys, values and references.

/// The candidate closest to `word`, if it is close enough to be a likely typo.
///
/// Uses the optimal-string-alignment distance so a swapped pair of letters (`nmae`) counts as one
/// edit; a candidate qualifies when at most a third of the longer word changed (at least one
/// edit allowed), which catches typos without suggesting unrelated short words.
///
/// ```
/// use trackplan_model::suggest;
/// assert_eq!(suggest("purpose", ["purposes", "properties"]), Some("purposes"));
/// assert_eq!(suggest("nmae", ["name", "version"]), Some("name"));
/// assert_eq!(suggest("colour", ["name", "version"]), None);
/// ```
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        if candidate == word {
            continue;
        }
        let distance = strsim::osa_distance(word, candidate);
        let longest = word.chars().count().max(candidate.chars().count());
        let allowed = (longest / 3).max(1);
        let case_only = word.eq_ignore_ascii_case(candidate);
        if (distance <= allowed || case_only) && best.is_none_or(|(d, _)| distance < d) {
            best = Some((if case_only { 0 } else { distance }, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// `did you mean `x`?` when a candidate is close, for a diagnostic's help line.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    suggest(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_candidate() {
        assert_eq!(
            suggest("sensitivty", ["sensitivity", "description"]),
            Some("sensitivity")
        );
        assert_eq!(
            suggest("desription", ["sensitivity", "description"]),
            Some("description")
        );
        assert_eq!(
            suggest("PERSONAL", ["personal", "public"]),
            Some("personal")
        );
    }

    #[test]
    fn does_not_suggest_unrelated_words() {
        assert_eq!(suggest("x", ["name", "type"]), None);
        assert_eq!(suggest("retention", ["basis", "data_use"]), None);
    }

    #[test]
    fn never_suggests_the_word_itself() {
        assert_eq!(suggest("name", ["name"]), None);
    }
}
