//! Random, mostly valid plans for the fuzz targets and the property test.
//!
//! One generator serves both: `fuzz/fuzz_targets/plan_struct.rs` drives it with libFuzzer's
//! bytes (through `arbitrary`), `codegen/tests/random_plans.rs` with a seeded [`Seeded`] source,
//! so a plan that breaks one can be replayed by the other. Choices lean towards what the model
//! accepts (declared purposes, protected personal data, first-party special data) so most
//! plans reach code generation; a few percent carry one deliberate mistake (an unknown key, a
//! dangling reference, a duplicate) to exercise the error path and its stub items too.

use std::fmt::Write as _;

/// Where the generator's decisions come from.
pub trait Choices {
    /// A number in `0..n` (`n > 0`); any number is fine once the source is exhausted.
    fn below(&mut self, n: usize) -> usize;
}

/// A deterministic [`Choices`] source (SplitMix64) for tests that must not depend on a fuzzer.
#[derive(Debug, Clone)]
pub struct Seeded(u64);

impl Seeded {
    /// The source for `seed`; the same seed gives the same plans.
    pub fn new(seed: u64) -> Seeded {
        Seeded(seed)
    }
}

impl Choices for Seeded {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // `n` fits in u64 on every supported target; the remainder is below `n`.
        (z % n.max(1) as u64) as usize
    }
}

/// Ids that are Rust keywords, name std or prelude types, or collide after case conversion.
const IDS: &[&str] = &[
    "analytics",
    "type",
    "self",
    "super",
    "crate",
    "match",
    "async",
    "option",
    "string",
    "vec",
    "result",
    "box",
    "plan",
    "purpose",
    "destination",
    "core",
    "std",
    "a_b",
    "x1",
    "trailing_",
    "plan_tier",
    "default",
    "fn",
    "impl",
    "dyn",
    "try",
    "union",
];

/// Wire names and enum values in any script and with any punctuation.
const WORDS: &[&str] = &[
    "Page Viewed",
    "type",
    "Self",
    "self",
    "with \"quotes\"",
    "back\\slash",
    "#hash",
    "2nd",
    "🎉",
    "日本",
    "Straße",
    "a b",
    "C-D",
    "über",
    "*/ /*",
    "```",
    "tab\there",
    "new\nline",
    "{}",
    "None",
    "Option",
    "_",
    "-",
    "r#type",
    "Ünïcödé",
    "0",
    "",
];

/// Descriptions that stress doc comments: Markdown, comment terminators, fences, raw text.
const DESCRIPTIONS: &[&str] = &[
    "A thing happened.",
    "Ends a block comment: */ and opens one: /*",
    "```rust\nnot Rust\n",
    "    indented code block",
    "<html> [link](https://example.com) [bracket]",
    "\"quoted\" \\ backslash",
    "#![doc = \"x\"]",
    "trailing backslash \\",
    "line\r\nbreak",
];

const BASES: &[&str] = &[
    "consent",
    "legitimate_interest",
    "contract",
    "legal_obligation",
    "vital_interest",
    "public_task",
];

const DATA_USES: &[&str] = &[
    "analytics.reporting",
    "marketing.advertising.third_party.targeted",
    "essential.fraud_detection",
    "essential.service.operations.support",
    "marketing",
];

const KINDS: &[&str] = &[
    "ndjson", "memory", "stdout", "custom", "mixpanel", "segment",
];

/// Deliberate mistakes, one of which a few percent of plans carry.
const MISTAKES: &[&str] = &[
    "sensitivty = \"public\"\n",
    "purposes = [\"nowhere\"]\n",
    "type = \"strin\"\n",
    "= broken toml\n",
    "[events]\n",
];

struct Gen<'c> {
    c: &'c mut dyn Choices,
    out: String,
}

impl Gen<'_> {
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.c.below(from.len())]
    }

    /// True with probability `1 / n`.
    fn one_in(&mut self, n: usize) -> bool {
        self.c.below(n) == 0
    }

    /// A non-empty subset of `from` (in order), sometimes with an entry repeated.
    fn subset(&mut self, from: &[String]) -> Vec<String> {
        let mut out: Vec<String> = from.iter().filter(|_| self.one_in(2)).cloned().collect();
        if out.is_empty() {
            out.push(from[self.c.below(from.len())].clone());
        }
        if self.one_in(40) {
            out.push(out[0].clone());
        }
        out
    }

    fn pick_owned(&mut self, from: &[String]) -> String {
        from[self.c.below(from.len())].clone()
    }

    fn line(&mut self, s: &str) {
        self.out.push_str(s);
        self.out.push('\n');
    }
}

/// A TOML basic string holding `s` exactly.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML key: bare when it can be, quoted otherwise.
fn key(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        s.to_owned()
    } else {
        quote(s)
    }
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("[{}]", quoted.join(", "))
}

/// The text of a random plan, from `choices`.
pub fn plan(choices: &mut dyn Choices) -> String {
    let mut g = Gen {
        c: choices,
        out: String::with_capacity(4096),
    };
    let mistake = if g.one_in(12) {
        Some(g.pick(MISTAKES))
    } else {
        None
    };
    let mut mistake_left = mistake;
    let mut maybe_mistake = |g: &mut Gen<'_>| {
        if mistake_left.is_some() && g.one_in(3) {
            let m = mistake_left.take().unwrap_or_default();
            g.out.push_str(m);
        }
    };

    g.line("[plan]");
    let name = g.pick(&["shop", "app", "type", "a_b", "a1"]);
    g.line(&format!("name = {}", quote(name)));
    let version = 1 + g.c.below(5);
    g.line(&format!("version = {version}"));
    if g.one_in(3) {
        g.line("owner = \"team@example.com\"");
    }
    if g.one_in(3) {
        let identity = g.pick(&["hmac", "none"]);
        g.line(&format!("\n[identity]\ntransform = {}", quote(identity)));
        if identity == "none" {
            g.line("justification = \"The id is already pseudonymous.\"");
        }
    }

    let n = 1 + g.c.below(4);
    let purposes = ids(&mut g, n);
    // Purposes whose basis is consent and whose data use is not marketing: the only ones
    // special-category data may be collected for (and the policy below allows).
    let mut consented = Vec::new();
    for p in &purposes {
        g.line(&format!("\n[purposes.{}]", key(p)));
        let description = g.pick(DESCRIPTIONS);
        g.line(&format!("description = {}", quote(description)));
        let basis = if g.one_in(2) {
            "consent"
        } else {
            g.pick(BASES)
        };
        g.line(&format!("basis = {}", quote(basis)));
        let data_use = g.pick(DATA_USES);
        g.line(&format!("data_use = {}", quote(data_use)));
        if basis == "consent" && !data_use.starts_with("marketing") {
            consented.push(p.clone());
        }
        if g.one_in(3) {
            let days = g.c.below(1000);
            g.line(&format!("retention_days = {days}"));
        }
        if g.one_in(5) {
            g.line("sale_or_share = true");
        }
        maybe_mistake(&mut g);
    }

    let n = 1 + g.c.below(3);
    let destinations = ids(&mut g, n);
    for d in &destinations {
        g.line(&format!("\n[destinations.{}]", key(d)));
        let kind = g.pick(KINDS);
        g.line(&format!("kind = {}", quote(kind)));
        let allowed = g.subset(&purposes);
        g.line(&format!("purposes = {}", list(&allowed)));
        if matches!(kind, "mixpanel" | "segment") || g.one_in(6) {
            g.line("third_party = true");
        }
        if g.one_in(2) {
            let description = g.pick(DESCRIPTIONS);
            g.line(&format!("description = {}", quote(description)));
        }
    }

    let n = g.c.below(3);
    let shared = ids(&mut g, n);
    // The wire names of the shared properties that set one, which events must not reuse.
    let mut shared_names = Vec::new();
    for s in &shared {
        g.line(&format!("\n[properties.{}]", key(s)));
        // A shared property may be used by any event, so it is special only in plans whose
        // every purpose allows special data.
        let special = consented.len() == purposes.len();
        let definition = property(&mut g, &purposes, special, &mut shared_names, false);
        g.out.push_str(&definition);
        maybe_mistake(&mut g);
    }

    let n = 1 + g.c.below(6);
    let events = ids(&mut g, n);
    let mut names = Vec::new();
    for (i, e) in events.iter().enumerate() {
        g.line(&format!("\n[events.{}]", key(e)));
        let mut name = g.pick(WORDS).to_owned();
        if names.contains(&name) || name.is_empty() {
            name = format!("{name} {i}");
        }
        match names.first() {
            Some(first) if g.one_in(30) => name = first.clone(),
            _ => names.push(name.clone()),
        }
        g.line(&format!("name = {}", quote(&name)));
        if g.one_in(2) {
            let description = g.pick(DESCRIPTIONS);
            g.line(&format!("description = {}", quote(description)));
        }
        let own = g.subset(&purposes);
        g.line(&format!("purposes = {}", list(&own)));
        maybe_mistake(&mut g);
        let count = g.c.below(6);
        if count == 0 {
            continue;
        }
        g.line(&format!("\n[events.{}.properties]", key(e)));
        let special = own.iter().all(|p| consented.contains(p));
        let mut used = Vec::new();
        let mut wire_names = shared_names.clone();
        for _ in 0..count {
            if !shared.is_empty() && g.one_in(3) {
                let s = g.pick_owned(&shared);
                if !used.contains(&s) {
                    g.line(&format!("{} = {{}}", key(&s)));
                    used.push(s);
                }
                continue;
            }
            let mut f = g.pick(IDS).to_owned();
            // Inline fields named like a shared property would be read as overriding it.
            while used.contains(&f) || shared.contains(&f) {
                f.push('_');
            }
            // Without a `name`, the field id is the wire name.
            wire_names.push(f.clone());
            let definition = property(&mut g, &own, special, &mut wire_names, true);
            g.line(&format!("{} = {{ {definition} }}", key(&f)));
            used.push(f);
        }
    }

    if g.one_in(4) {
        g.line("\n[[policies]]\nname = \"no health data for marketing\"");
        g.line(
            "deny = { categories = [\"user.health_and_medical\"], data_uses = [\"marketing\"] }",
        );
    }
    maybe_mistake(&mut g);
    g.out
}

/// `n` distinct ids (rarely one repeated), drawn from [`IDS`] and numbered past its end.
fn ids(g: &mut Gen<'_>, n: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(n);
    for i in 0..n {
        let mut id = g.pick(IDS).to_owned();
        if out.contains(&id) && !g.one_in(40) {
            id = format!("{id}_{i}");
        }
        out.push(id);
    }
    out
}

/// A property definition as `key = value` pairs: on separate lines for a shared property,
/// comma-separated (an inline table's body) for an event's.
/// `special` says whether it may be special-category data; `names` holds the wire names taken
/// (by other properties of its event), and gets its own.
fn property(
    g: &mut Gen<'_>,
    purposes: &[String],
    special: bool,
    names: &mut Vec<String>,
    inline: bool,
) -> String {
    let mut pairs: Vec<String> = Vec::new();
    if g.one_in(3) {
        let name = g.pick(WORDS);
        if !name.is_empty() && (!names.iter().any(|n| n == name) || g.one_in(40)) {
            pairs.push(format!("name = {}", quote(name)));
            names.push(name.to_owned());
        }
    }
    let sensitivity = match g.c.below(10) {
        0..=3 => "public",
        4..=6 => "internal",
        9 if special => "special",
        _ => "personal",
    };
    let ty = match sensitivity {
        // Transforms decide which types protected data may have.
        "personal" => g.pick(&["string", "integer", "timestamp", "list", "enum"]),
        "special" => g.pick(&["string", "enum", "boolean"]),
        _ => g.pick(&[
            "string",
            "integer",
            "number",
            "boolean",
            "timestamp",
            "enum",
            "list",
        ]),
    };
    pairs.push(format!("type = {}", quote(ty)));
    match ty {
        "enum" => {
            let values = enum_values(g);
            pairs.push(format!("values = {}", list(&values)));
        }
        "list" => {
            let item = g.pick(&["string", "integer", "number", "boolean", "enum"]);
            if item == "enum" {
                let values = enum_values(g);
                pairs.push(format!(
                    "items = {{ type = \"enum\", values = {} }}",
                    list(&values)
                ));
            } else {
                pairs.push(format!("items = {{ type = {} }}", quote(item)));
            }
        }
        "string" if g.one_in(3) => pairs.push(format!("max_length = {}", 1 + g.c.below(300))),
        "integer" | "number" if g.one_in(2) => {
            let min = g.c.below(10);
            pairs.push(format!("min = {min}"));
            if g.one_in(2) {
                pairs.push(format!("max = {}", min + g.c.below(200)));
            }
        }
        _ => {}
    }
    pairs.push(format!("sensitivity = {}", quote(sensitivity)));
    match sensitivity {
        "personal" => {
            let category = g.pick(&[
                "user.contact.email",
                "user.device.ip_address",
                "user.behavior.search_history",
                "user.demographic.age_range",
            ]);
            pairs.push(format!("category = {}", quote(category)));
            match ty {
                "string" => {
                    let t = g.pick(&["hmac", "truncate_ip", "strip_query", "redact"]);
                    pairs.push(format!("transform = {}", quote(t)));
                }
                "integer" => {
                    pairs.push("transform = \"bucket\"".into());
                    pairs.push("buckets = [18, 25, 35]".into());
                }
                "timestamp" => {
                    let to = g.pick(&["hour", "day", "month"]);
                    pairs.push("transform = \"coarsen\"".into());
                    pairs.push(format!("to = {}", quote(to)));
                }
                _ => {
                    pairs.push("transform = \"none\"".into());
                    pairs.push("justification = \"Needed as is by the team.\"".into());
                }
            }
        }
        "special" => {
            pairs.push("category = \"user.health_and_medical\"".into());
            pairs.push("transform = \"redact\"".into());
            pairs.push("special_basis = \"explicit_consent\"".into());
        }
        _ => {}
    }
    if g.one_in(3) {
        // The purposes it may be used for: all of the event's (or the plan's).
        pairs.push(format!("purposes = {}", list(purposes)));
    }
    if g.one_in(3) {
        pairs.push("required = false".into());
    }
    if g.one_in(2) {
        let description = g.pick(DESCRIPTIONS);
        pairs.push(format!("description = {}", quote(description)));
    }
    if inline {
        pairs.join(", ")
    } else {
        let mut text = pairs.join("\n");
        text.push('\n');
        text
    }
}

/// One to five distinct enum values (rarely a repeat).
fn enum_values(g: &mut Gen<'_>) -> Vec<String> {
    let n = 1 + g.c.below(5);
    let mut values: Vec<String> = Vec::with_capacity(n);
    for i in 0..n {
        let mut v = g.pick(WORDS).to_owned();
        if (values.contains(&v) || v.is_empty()) && !g.one_in(40) {
            v = format!("{v}{i}");
        }
        values.push(v);
    }
    values
}

/// How closely [`exercise`] looks at an expansion.
///
/// Measured on random plans (release build, `codegen/examples`-style loop): the plan path
/// itself (check and expansion) ~0.1 ms a plan; lexing its output with proc_macro2 adds
/// ~0.17 ms, parsing that with syn another ~0.45 ms. Checking every input at full depth would
/// spend seven eighths of a fuzzer's time outside the code under test, so the fuzz targets
/// look deeper at a fixed share of their inputs ([`Depth::of`]); the property test looks at
/// all of them at [`Depth::Parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// The plan path must not panic, and a valid plan must expand without `compile_error!`.
    Expand,
    /// Also: the items must lex (what the compiler does first with `plan!`'s output).
    Lex,
    /// Also: the items must parse as a Rust file, with no item or trait impl defined twice in
    /// one module.
    Parse,
}

impl Depth {
    /// By a hash of the input, so the same input always gets the same depth and a crash
    /// replays: [`Depth::Parse`] for one input in 32, [`Depth::Lex`] for three, else
    /// [`Depth::Expand`]. That keeps the deeper checks at about a third of a target's time.
    pub fn of(input: &[u8]) -> Depth {
        // FNV-1a: a stable hash, unlike std's randomly seeded one.
        let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        match hash % 32 {
            0 => Depth::Parse,
            1..=3 => Depth::Lex,
            _ => Depth::Expand,
        }
    }
}

/// Runs `text` through the whole plan path as `plan!` does (check, expansion, rendering of
/// every diagnostic) and checks what rustc would refuse before it gets to types: the items
/// must lex (from [`Depth::Lex`]) and parse as a Rust file (at [`Depth::Parse`]); for a valid
/// plan there must be no
/// `compile_error!` and (at [`Depth::Parse`]) no two items or trait impls of the same name in
/// one module (E0428, E0119). Returns whether the model accepted the plan, or what is wrong
/// with the expansion.
pub fn exercise(text: &str, depth: Depth) -> Result<bool, String> {
    use crate::{LoadedPlan, plan_expansion};
    use trackplan_model::{Diagnostic, SourceFile};

    let loaded = LoadedPlan::from_source(
        std::path::PathBuf::from("/fuzz/plan.toml"),
        SourceFile::new("plan.toml", text),
    );
    let valid = loaded.is_valid();
    if loaded.plan.is_none() && !loaded.diagnostics.iter().any(Diagnostic::is_error) {
        return Err("no plan and no error to say why".into());
    }
    let expansion = plan_expansion(&loaded, proc_macro2::Span::call_site());
    if valid {
        let diagnostics = expansion.diagnostics.to_string();
        if diagnostics.contains("compile_error") {
            return Err(format!(
                "a valid plan expands to a compile error: {diagnostics}"
            ));
        }
    }
    if depth == Depth::Expand {
        return Ok(valid);
    }
    // Lexed once; syn parses the tokens (`parse_file` would lex the text again).
    let items: proc_macro2::TokenStream = expansion
        .items
        .parse()
        .map_err(|e| format!("the expansion does not lex: {e}"))?;
    if depth == Depth::Lex {
        return Ok(valid);
    }
    let file: syn::File =
        syn::parse2(items).map_err(|e| format!("the expansion does not parse as Rust: {e}"))?;
    if valid {
        unique_items("the crate root", &file.items)?;
    }
    Ok(valid)
}

/// No two items of one namespace and no two impls of one trait for one type in `items`, nor
/// in the modules among them.
fn unique_items(scope: &str, items: &[syn::Item]) -> Result<(), String> {
    use quote::ToTokens;
    use std::collections::HashSet;

    let mut types = HashSet::new();
    let mut values = HashSet::new();
    let mut impls = HashSet::new();
    for item in items {
        let (namespace, name) = match item {
            syn::Item::Struct(s) => (&mut types, s.ident.to_string()),
            syn::Item::Enum(e) => (&mut types, e.ident.to_string()),
            syn::Item::Trait(t) => (&mut types, t.ident.to_string()),
            syn::Item::Type(t) => (&mut types, t.ident.to_string()),
            syn::Item::Mod(m) => {
                if let Some((_, content)) = &m.content {
                    unique_items(&format!("module `{}`", m.ident), content)?;
                }
                (&mut types, m.ident.to_string())
            }
            syn::Item::Fn(f) => (&mut values, f.sig.ident.to_string()),
            syn::Item::Static(s) => (&mut values, s.ident.to_string()),
            syn::Item::Const(c) if c.ident != "_" => (&mut values, c.ident.to_string()),
            syn::Item::Impl(i) => {
                let Some((path, _)) = &i.trait_ else {
                    continue;
                };
                let key = format!(
                    "impl {} for {}",
                    path.to_token_stream(),
                    i.self_ty.to_token_stream()
                );
                if !impls.insert(key.clone()) {
                    return Err(format!("{scope} has `{key}` twice (E0119)"));
                }
                continue;
            }
            _ => continue,
        };
        if !namespace.insert(name.clone()) {
            return Err(format!("{scope} defines `{name}` twice (E0428)"));
        }
    }
    Ok(())
}
