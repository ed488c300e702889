//! Reading typed values out of a TOML table, reporting every wrong kind and missing key.

use super::*;

impl Parser {
    pub(super) fn error(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Opens a value as a table, reporting a wrong kind and unknown keys.
    pub(super) fn open<'t, 'i>(
        &mut self,
        v: &'t TomlValue<'i>,
        what: String,
        keys: &'static [&'static str],
    ) -> Option<Table<'t, 'i>> {
        let mut table = self.open_any(v, what)?;
        table.known = keys;
        self.unknown_keys(&table);
        Some(table)
    }

    /// The tables of `[[key]]` in `top`, each opened with `keys` and named `"{item} #n"`;
    /// reports a `key` that is not an array of tables (with `help`), and each item that is not
    /// a table.
    pub(super) fn array_of_tables<'t, 'i>(
        &mut self,
        top: &Table<'t, 'i>,
        key: &str,
        item: &str,
        keys: &'static [&'static str],
        help: &str,
    ) -> Vec<Table<'t, 'i>> {
        let Some((_, v)) = top.get(key) else {
            return Vec::new();
        };
        let DeValue::Array(items) = v.get_ref() else {
            self.error(
                Diagnostic::error(
                    "wrong-kind",
                    format!(
                        "`{key}` must be an array of tables, found {}",
                        kind_name(v.get_ref())
                    ),
                )
                .at(span_of(v))
                .with_help(help),
            );
            return Vec::new();
        };
        items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| self.open(v, format!("{item} #{}", i + 1), keys))
            .collect()
    }

    /// Opens a value as a table whose keys are ids, reporting a wrong kind.
    pub(super) fn open_any<'t, 'i>(
        &mut self,
        v: &'t TomlValue<'i>,
        what: String,
    ) -> Option<Table<'t, 'i>> {
        let DeValue::Table(map) = v.get_ref() else {
            self.error(
                Diagnostic::error(
                    "wrong-kind",
                    format!("{what} must be a table, found {}", kind_name(v.get_ref())),
                )
                .at(span_of(v))
                .with_label("expected a table"),
            );
            return None;
        };
        Some(Table {
            what,
            span: span_of(v),
            entries: sorted_entries(map),
            known: &[],
        })
    }

    pub(super) fn unknown_keys(&mut self, table: &Table<'_, '_>) {
        let keys = table.known;
        for (key, value) in &table.entries {
            let name = key.get_ref().as_ref();
            if keys.contains(&name) {
                continue;
            }
            let mut d = Diagnostic::error(
                "unknown-key",
                format!("unknown key `{name}` in {}", table.what),
            )
            .at(span_of(key))
            .with_label("unknown key");
            d.help = did_you_mean(name, keys.iter().copied()).or_else(|| {
                Some(format!(
                    "the keys of {} are {}",
                    table.what,
                    keys.iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            });
            if table.what.starts_with("taxonomy category") && value.get_ref().is_table() {
                d.help = Some(
                    "quote the whole category key: [taxonomy.categories.\"user.example.key\"]"
                        .to_owned(),
                );
            }
            self.error(d);
        }
    }

    pub(super) fn wrong_kind(
        &mut self,
        table: &Table<'_, '_>,
        key: &str,
        v: &TomlValue<'_>,
        expected: &str,
    ) {
        self.error(
            Diagnostic::error(
                "wrong-kind",
                format!(
                    "`{key}` of {} must be {expected}, found {}",
                    table.what,
                    kind_name(v.get_ref())
                ),
            )
            .at(span_of(v))
            .with_label(format!("expected {expected}")),
        );
    }

    pub(super) fn string(&mut self, t: &Table<'_, '_>, key: &str) -> Got<String> {
        let Some((_, v)) = t.get(key) else {
            return Got::Absent;
        };
        match v.get_ref() {
            DeValue::String(s) => Got::Value(Spanned::new(s.to_string(), span_of(v))),
            _ => {
                self.wrong_kind(t, key, v, "a string");
                Got::Invalid
            }
        }
    }

    pub(super) fn boolean(&mut self, t: &Table<'_, '_>, key: &str) -> Got<bool> {
        let Some((_, v)) = t.get(key) else {
            return Got::Absent;
        };
        match v.get_ref() {
            DeValue::Boolean(b) => Got::Value(Spanned::new(*b, span_of(v))),
            _ => {
                self.wrong_kind(t, key, v, "`true` or `false`");
                Got::Invalid
            }
        }
    }

    pub(super) fn uint(&mut self, t: &Table<'_, '_>, key: &str) -> Got<u32> {
        let Some((_, v)) = t.get(key) else {
            return Got::Absent;
        };
        match integer(v.get_ref()) {
            Some(Some(i)) if u32::try_from(i).is_ok() => {
                Got::Value(Spanned::new(i as u32, span_of(v)))
            }
            Some(_) => {
                self.error(
                    Diagnostic::error(
                        "invalid-value",
                        format!(
                            "`{key}` of {} must be a whole number from 0 to {}",
                            t.what,
                            u32::MAX
                        ),
                    )
                    .at(span_of(v))
                    .with_label("out of range"),
                );
                Got::Invalid
            }
            None => {
                self.wrong_kind(t, key, v, "an integer");
                Got::Invalid
            }
        }
    }

    pub(super) fn number_value(
        &mut self,
        t: &Table<'_, '_>,
        key: &str,
        v: &TomlValue<'_>,
    ) -> Option<f64> {
        let n = match v.get_ref() {
            DeValue::Integer(_) => integer(v.get_ref()).flatten().map(|i| i as f64),
            DeValue::Float(f) => f.as_str().parse::<f64>().ok().filter(|f| f.is_finite()),
            _ => {
                self.wrong_kind(t, key, v, "a number");
                return None;
            }
        };
        if n.is_none() {
            self.error(
                Diagnostic::error(
                    "invalid-value",
                    format!("`{key}` of {} must be a finite number", t.what),
                )
                .at(span_of(v)),
            );
        }
        n
    }

    pub(super) fn number(&mut self, t: &Table<'_, '_>, key: &str) -> Got<f64> {
        let Some((_, v)) = t.get(key) else {
            return Got::Absent;
        };
        match self.number_value(t, key, v) {
            Some(n) => Got::Value(Spanned::new(n, span_of(v))),
            None => Got::Invalid,
        }
    }

    pub(super) fn array<'t, 'i>(
        &mut self,
        t: &Table<'t, 'i>,
        key: &str,
        expected: &str,
    ) -> Option<(Span, &'t [TomlValue<'i>])> {
        let (_, v) = t.get(key)?;
        match v.get_ref() {
            DeValue::Array(items) => Some((span_of(v), &items[..])),
            _ => {
                self.wrong_kind(t, key, v, expected);
                None
            }
        }
    }

    pub(super) fn strings(&mut self, t: &Table<'_, '_>, key: &str) -> Got<Vec<Spanned<String>>> {
        if t.get(key).is_none() {
            return Got::Absent;
        }
        let Some((span, items)) = self.array(t, key, "an array of strings") else {
            return Got::Invalid;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items {
            match item.get_ref() {
                DeValue::String(s) => out.push(Spanned::new(s.to_string(), span_of(item))),
                other => {
                    ok = false;
                    self.error(
                        Diagnostic::error(
                            "wrong-kind",
                            format!(
                                "items of `{key}` in {} must be strings, found {}",
                                t.what,
                                kind_name(other)
                            ),
                        )
                        .at(span_of(item))
                        .with_label("expected a string"),
                    );
                }
            }
        }
        if ok {
            Got::Value(Spanned::new(out, span))
        } else {
            Got::Invalid
        }
    }

    pub(super) fn numbers(&mut self, t: &Table<'_, '_>, key: &str) -> Got<Vec<f64>> {
        if t.get(key).is_none() {
            return Got::Absent;
        }
        let Some((span, items)) = self.array(t, key, "an array of numbers") else {
            return Got::Invalid;
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match self.number_value(t, key, item) {
                Some(n) => out.push(n),
                None => return Got::Invalid,
            }
        }
        Got::Value(Spanned::new(out, span))
    }

    pub(super) fn keyword<T: Copy>(
        &mut self,
        t: &Table<'_, '_>,
        key: &str,
        options: &[(&str, T)],
    ) -> Got<T> {
        let Some((_, v)) = t.get(key) else {
            return Got::Absent;
        };
        let DeValue::String(s) = v.get_ref() else {
            self.wrong_kind(t, key, v, &format!("one of {}", one_of(options)));
            return Got::Invalid;
        };
        if let Some((_, value)) = options.iter().find(|(k, _)| *k == s.as_ref()) {
            return Got::Value(Spanned::new(*value, span_of(v)));
        }
        let help = did_you_mean(s, options.iter().map(|(k, _)| *k))
            .unwrap_or_else(|| format!("`{key}` is one of {}", one_of(options)));
        self.error(
            Diagnostic::error(
                "invalid-value",
                format!("`{s}` is not a valid `{key}` of {}", t.what),
            )
            .at(span_of(v))
            .with_label(format!("unknown `{key}`"))
            .with_help(help),
        );
        Got::Invalid
    }

    /// Reports a missing required key; passes a present value through.
    pub(super) fn require<T>(
        &mut self,
        t: &Table<'_, '_>,
        key: &str,
        got: Got<T>,
        example: &str,
    ) -> Option<Spanned<T>> {
        match got {
            Got::Value(v) => Some(v),
            Got::Invalid => None,
            Got::Absent => {
                // A misspelt key is already reported as unknown with "did you mean `key`?".
                let misspelt = t.entries.iter().any(|(k, _)| {
                    let k = k.get_ref().as_ref();
                    !t.known.contains(&k) && crate::suggest(k, t.known.iter().copied()) == Some(key)
                });
                if misspelt {
                    return None;
                }
                self.error(
                    Diagnostic::error("missing-key", format!("{} is missing `{key}`", t.what))
                        .at(t.span)
                        .with_label(format!("needs `{key}`"))
                        .with_help(format!("add `{key} = {example}`")),
                );
                None
            }
        }
    }

    /// A value for an item field: the parsed one, or `placeholder` (recorded as such) when the
    /// field is missing or broken.
    pub(super) fn fill<T>(
        &mut self,
        item: Span,
        field: &'static str,
        got: Option<Spanned<T>>,
        placeholder: T,
        at: Span,
    ) -> Spanned<T> {
        got.unwrap_or_else(|| {
            self.incomplete.mark(item, field);
            Spanned::new(placeholder, at)
        })
    }

    /// Like [`fill`](Self::fill) for optional fields: `None` when absent, a recorded `None`
    /// when broken.
    pub(super) fn optional<T>(
        &mut self,
        item: Span,
        field: &'static str,
        got: Got<T>,
    ) -> Option<Spanned<T>> {
        match got {
            Got::Value(v) => Some(v),
            Got::Absent => None,
            Got::Invalid => {
                self.incomplete.mark(item, field);
                None
            }
        }
    }

    /// The entries of a `[section.<id>]` collection (e.g. `purposes`), each a table.
    pub(super) fn section<'t, 'i>(
        &mut self,
        top: &Table<'t, 'i>,
        key: &str,
    ) -> Vec<(&'t TomlKey<'i>, &'t TomlValue<'i>)> {
        let Some((_, v)) = top.get(key) else {
            return Vec::new();
        };
        match v.get_ref() {
            DeValue::Table(map) => sorted_entries(map),
            _ => {
                self.wrong_kind(top, key, v, &format!("a table of tables ([{key}.<id>])"));
                Vec::new()
            }
        }
    }
}
