//! Writing property values: the only road from an event field to the wire.
//!
//! Generated `Event::write_properties` calls [`Value::write`] for each field with the field's
//! static [`PropertyInfo`]. The writer checks the property's constraints, applies its declared
//! transform and appends `"key":value` to one of two buffers: properties every destination may
//! receive, and `redact` properties that only first-party destinations receive. A value that
//! fails its constraints or cannot be transformed is never written raw: it is dropped (and
//! counted) or, under [`ViolationPolicy::Panic`], panics with a message that names the property
//! and the rule but never the value.

use crate::event::Values;
use crate::key::Key;
use crate::plan::{Audience, PropertyInfo, Sensitivity, TransformInfo};
use crate::sensitive::{Personal, Special};
use crate::time::Timestamp;
use crate::transform;
use std::borrow::Cow;
use std::sync::Arc;

/// One scalar value, borrowed from an event field.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub enum Scalar<'v> {
    /// Text.
    Str(&'v str),
    /// Integer.
    Int(i64),
    /// Float.
    Num(f64),
    /// Boolean.
    Bool(bool),
    /// Point in time.
    Time(Timestamp),
    /// An enum's wire value.
    Enum(&'static str),
    /// An integer outside the `i64` range of the plan's `integer` type.
    Overflow,
}

// Scalars carry raw, untransformed values (e-mail addresses before HMAC): never print them.
impl std::fmt::Debug for Scalar<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scalar([redacted])")
    }
}

/// A type that can be one scalar property value. Implemented for the Rust types the plan's
/// property types accept, and for every [`Values`] enum.
#[doc(hidden)]
pub trait AsScalar {
    /// The value.
    fn as_scalar(&self) -> Scalar<'_>;
}

/// A field value that can be written as a property.
pub trait Value {
    /// Writes `self` as property `p` through its transform.
    fn write(&self, p: &'static PropertyInfo, w: &mut PropertyWriter<'_>);
}

/// What happens to a property value that breaks its plan constraints (`max_length`, `min`,
/// `max`) or that its transform cannot handle (e.g. `truncate_ip` on text that is not an
/// address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ViolationPolicy {
    /// Leave the property out of the event, count it in `Stats::dropped_invalid` and log a
    /// warning naming the property (never the value). The event itself is still sent, unless
    /// the property is required: an event without a required property is not the event the
    /// plan describes, so it is not tracked at all (`Stats::refused_invalid`, and a warning
    /// naming the event and the property).
    #[default]
    Drop,
    /// Panic, naming the property and the rule but never the value. For tests that want
    /// instrumentation bugs to fail loudly.
    Panic,
}

/// Why a value was not written.
#[derive(Debug, Clone, Copy)]
enum Invalid {
    TooLong(u32),
    BelowMin(f64),
    AboveMax(f64),
    NotFinite,
    NotAnIp,
    NoKey,
    WrongKind(&'static str),
    Overflow,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Invalid::TooLong(n) => write!(f, "is longer than its max_length of {n} characters"),
            Invalid::BelowMin(m) => write!(f, "is below its min of {m}"),
            Invalid::AboveMax(m) => write!(f, "is above its max of {m}"),
            Invalid::NotFinite => f.write_str("is not a finite number"),
            Invalid::NotAnIp => f.write_str("is not an IP address, so truncate_ip cannot apply"),
            Invalid::NoKey => f.write_str("needs the tracker key for its hmac transform"),
            Invalid::WrongKind(t) => write!(f, "has a type its {t} transform does not accept"),
            Invalid::Overflow => f.write_str("does not fit the 64-bit integer type of the plan"),
        }
    }
}

/// Appends properties, transformed, as JSON members (`"key":value`, comma-separated).
///
/// Only the tracker makes one (it cannot be built outside this crate) and hands it to an
/// event's generated `write_properties`: a writer is never a way to read raw values, and every
/// value written through it goes through its property's transform.
pub struct PropertyWriter<'a> {
    shared: &'a mut Vec<u8>,
    first_party: &'a mut Vec<u8>,
    // Members are comma-separated after these offsets, so callers may prefix the buffers
    // (the tracker writes the opening `{` first).
    shared_start: usize,
    first_party_start: usize,
    key: Option<&'a Key>,
    policy: ViolationPolicy,
    dropped: u32,
    /// The first required property whose value was rejected.
    missing_required: Option<&'static str>,
    /// Leaves special-category properties out (the recipients lack explicit consent).
    omit_special: bool,
    /// A required special-category property was left out: the event must not be sent.
    withheld_required: bool,
}

impl<'a> PropertyWriter<'a> {
    /// A writer with the tracker's key and violation policy.
    pub(crate) fn with_context(
        shared: &'a mut Vec<u8>,
        first_party: &'a mut Vec<u8>,
        key: Option<&'a Key>,
        policy: ViolationPolicy,
    ) -> Self {
        PropertyWriter {
            shared_start: shared.len(),
            first_party_start: first_party.len(),
            shared,
            first_party,
            key,
            policy,
            dropped: 0,
            missing_required: None,
            omit_special: false,
            withheld_required: false,
        }
    }

    /// A writer whose shared members continue a list begun at `shared_start` (a comma
    /// precedes each one after it).
    #[inline(always)]
    pub(crate) fn continuing(
        shared: &'a mut Vec<u8>,
        shared_start: usize,
        first_party: &'a mut Vec<u8>,
        key: Option<&'a Key>,
        policy: ViolationPolicy,
    ) -> Self {
        let mut w = PropertyWriter::with_context(shared, first_party, key, policy);
        w.shared_start = shared_start;
        w
    }

    /// The same writer, leaving special-category properties out: for recipients whose
    /// consent was not given explicitly (`Consent::grant_explicit`).
    pub(crate) fn omitting_special(mut self) -> Self {
        self.omit_special = true;
        self
    }

    /// Whether a required special-category property was left out by
    /// [`PropertyWriter::omitting_special`].
    pub(crate) fn withheld_required(&self) -> bool {
        self.withheld_required
    }

    /// Whether `p` is left out: special-category data for recipients without explicit
    /// consent. Folds away for a constant `p` that is not special.
    #[inline(always)]
    fn withholds(&mut self, p: &'static PropertyInfo) -> bool {
        if matches!(p.sensitivity, Sensitivity::Special) && self.omit_special {
            self.withheld_required |= p.required;
            return true;
        }
        false
    }

    /// The first required property whose value was dropped as invalid, if any: the event
    /// must then not be sent.
    pub(crate) fn missing_required(&self) -> Option<&'static str> {
        self.missing_required
    }

    /// How many values were dropped as invalid so far.
    pub fn dropped(&self) -> u32 {
        self.dropped
    }

    /// Opens member `p`: returns its buffer and the length to roll back to.
    #[inline(always)]
    fn begin(&mut self, p: &'static PropertyInfo) -> (&mut Vec<u8>, usize) {
        let (buf, start) = match p.transform.audience() {
            Audience::FirstParty => (&mut *self.first_party, self.first_party_start),
            Audience::All => (&mut *self.shared, self.shared_start),
        };
        let mark = buf.len();
        if buf.len() > start {
            buf.push(b',');
        }
        buf.extend_from_slice(p.json_key.as_bytes());
        (buf, mark)
    }

    /// Writes one scalar property.
    ///
    /// Inlined into generated `write_properties`, where `p` is a constant: for a property
    /// without a transform (most of them) the checks that do not apply fold away and what is
    /// left is the JSON member itself.
    #[inline(always)]
    pub(crate) fn scalar(&mut self, p: &'static PropertyInfo, v: Scalar<'_>) {
        if self.withholds(p) {
            return;
        }
        if !matches!(p.transform, TransformInfo::None) {
            return self.transformed(p, v);
        }
        if let Err(why) = check(p, v) {
            return self.reject(p, why);
        }
        let (buf, _) = self.begin(p);
        write_plain(buf, v);
    }

    /// [`PropertyWriter::scalar`] for a property with a transform (or `redact`).
    #[inline(never)]
    fn transformed(&mut self, p: &'static PropertyInfo, v: Scalar<'_>) {
        let key = self.key;
        let (buf, mark) = self.begin(p);
        if let Err(why) = write_value(p, v, key, buf) {
            buf.truncate(mark);
            self.reject(p, why);
        }
    }

    /// Writes a list property; one invalid item drops the whole list.
    pub(crate) fn list<'v>(
        &mut self,
        p: &'static PropertyInfo,
        items: impl Iterator<Item = Scalar<'v>>,
    ) {
        if self.withholds(p) {
            return;
        }
        let key = self.key;
        let (buf, mark) = self.begin(p);
        buf.push(b'[');
        for (i, v) in items.enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            if let Err(why) = write_value(p, v, key, buf) {
                buf.truncate(mark);
                self.reject(p, why);
                return;
            }
        }
        buf.push(b']');
    }

    #[cold]
    #[inline(never)]
    fn reject(&mut self, p: &'static PropertyInfo, why: Invalid) {
        match self.policy {
            ViolationPolicy::Drop if p.required => {
                self.dropped += 1;
                // The tracker refuses the event and warns, naming it and the property.
                self.missing_required.get_or_insert(p.id);
            }
            ViolationPolicy::Drop => {
                self.dropped += 1;
                tracing::warn!(
                    property = p.id,
                    "trackplan dropped a property value that {why}"
                );
            }
            ViolationPolicy::Panic => {
                panic!("trackplan: the value of property `{}` {why}", p.id)
            }
        }
    }
}

/// Checks `v` against `p`'s constraints and appends it through `p`'s transform.
fn write_value(
    p: &'static PropertyInfo,
    v: Scalar<'_>,
    key: Option<&Key>,
    buf: &mut Vec<u8>,
) -> Result<(), Invalid> {
    check(p, v)?;
    match p.transform {
        TransformInfo::None | TransformInfo::Redact => write_plain(buf, v),
        TransformInfo::Hmac { lowercase } => {
            let key = key.ok_or(Invalid::NoKey)?;
            let mut digits = itoa::Buffer::new();
            let text: Cow<'_, str> = match v {
                Scalar::Str(s) => Cow::Borrowed(s.trim()),
                Scalar::Enum(s) => Cow::Borrowed(s),
                Scalar::Int(i) => Cow::Borrowed(digits.format(i)),
                _ => return Err(Invalid::WrongKind("hmac")),
            };
            let text = if lowercase && text.chars().any(char::is_uppercase) {
                Cow::Owned(text.to_lowercase())
            } else {
                text
            };
            buf.push(b'"');
            key.write_hmac_hex(text.as_bytes(), buf);
            buf.push(b'"');
        }
        TransformInfo::TruncateIp => {
            let Scalar::Str(s) = v else {
                return Err(Invalid::WrongKind("truncate_ip"));
            };
            buf.push(b'"');
            if !transform::truncate_ip(s, buf) {
                return Err(Invalid::NotAnIp);
            }
            buf.push(b'"');
        }
        TransformInfo::StripQuery => match v {
            Scalar::Str(s) => write_json_str(buf, &transform::strip_query(s)),
            _ => return Err(Invalid::WrongKind("strip_query")),
        },
        TransformInfo::Bucket(bounds) => {
            let x = match v {
                Scalar::Int(i) => i as f64, // bucket bounds are f64; precision loss only past 2^53
                Scalar::Num(n) => n,
                _ => return Err(Invalid::WrongKind("bucket")),
            };
            buf.push(b'"');
            if !transform::bucket(x, bounds, buf) {
                return Err(Invalid::NotFinite);
            }
            buf.push(b'"');
        }
        TransformInfo::Coarsen(to) => match v {
            Scalar::Time(t) => write_time(buf, t.coarsen(to)),
            _ => return Err(Invalid::WrongKind("coarsen")),
        },
    }
    Ok(())
}

/// Checks the plan's run-time constraints on the raw value (before its transform).
#[inline(always)]
fn check(p: &'static PropertyInfo, v: Scalar<'_>) -> Result<(), Invalid> {
    let c = &p.constraints;
    let n = match v {
        Scalar::Str(s) => {
            if let Some(max) = c.max_length {
                // Byte length bounds the character count: count characters only when needed.
                if s.len() > max as usize && too_many_chars(s, max) {
                    return Err(Invalid::TooLong(max));
                }
            }
            return Ok(());
        }
        Scalar::Int(i) => i as f64,
        Scalar::Num(n) if !n.is_finite() => return Err(Invalid::NotFinite),
        Scalar::Overflow => return Err(Invalid::Overflow),
        Scalar::Num(n) => n,
        _ => return Ok(()),
    };
    match (c.min, c.max) {
        (Some(min), _) if n < min => Err(Invalid::BelowMin(min)),
        (_, Some(max)) if n > max => Err(Invalid::AboveMax(max)),
        _ => Ok(()),
    }
}

#[cold]
fn too_many_chars(s: &str, max: u32) -> bool {
    s.chars().count() > max as usize
}

#[inline(always)]
fn write_plain(buf: &mut Vec<u8>, v: Scalar<'_>) {
    match v {
        Scalar::Str(s) => write_json_str(buf, s),
        Scalar::Enum(s) => write_json_str(buf, s),
        Scalar::Int(i) => buf.extend_from_slice(itoa::Buffer::new().format(i).as_bytes()),
        // Non-finite numbers were rejected by `check`.
        Scalar::Num(n) => buf.extend_from_slice(zmij::Buffer::new().format_finite(n).as_bytes()),
        Scalar::Bool(b) => buf.extend_from_slice(if b { b"true" } else { b"false" }),
        Scalar::Time(t) => write_time(buf, t),
        // Rejected by `check`; writing `null` keeps the JSON valid should that ever change.
        Scalar::Overflow => buf.extend_from_slice(b"null"),
    }
}

fn write_time(buf: &mut Vec<u8>, t: Timestamp) {
    buf.push(b'"');
    buf.extend_from_slice(t.iso8601().as_str().as_bytes());
    buf.push(b'"');
}

/// Whether `bytes` hold a control character, `"` or `\\`: what JSON strings must escape.
/// Eight bytes at a time: a byte `b` of word `w` is flagged when `b < 0x20` (its subtraction
/// borrows) or when it equals one of the two characters (its XOR is zero), as long as the high
/// bit of `b` is clear (bytes of multibyte UTF-8 characters are never flagged).
#[inline]
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let flagged = |w: u64| {
        let below_space = w.wrapping_sub(ONES * 0x20);
        let quote = w ^ (ONES * u64::from(b'"'));
        let backslash = w ^ (ONES * u64::from(b'\\'));
        let zero = |x: u64| x.wrapping_sub(ONES);
        (below_space | zero(quote) | zero(backslash)) & !w & HIGH != 0
    };
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        if flagged(u64::from_le_bytes(word)) {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// Appends `s` as a JSON string literal.
#[inline]
pub(crate) fn write_json_str(buf: &mut Vec<u8>, s: &str) {
    // Most values (ids, enum values, URLs) need no escaping: copied at once. The others go
    // through serde_json's escaper, which is well tested.
    if !needs_escape(s.as_bytes()) {
        buf.reserve(s.len() + 2);
        buf.push(b'"');
        buf.extend_from_slice(s.as_bytes());
        buf.push(b'"');
    } else {
        write_escaped(buf, s);
    }
}

#[cold]
fn write_escaped(buf: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *buf, s);
}

impl<T: AsScalar> Value for T {
    #[inline]
    fn write(&self, p: &'static PropertyInfo, w: &mut PropertyWriter<'_>) {
        w.scalar(p, self.as_scalar());
    }
}

impl<T: Value> Value for Option<T> {
    #[inline]
    fn write(&self, p: &'static PropertyInfo, w: &mut PropertyWriter<'_>) {
        if let Some(v) = self {
            v.write(p, w);
        }
    }
}

impl<T: AsScalar> Value for Vec<T> {
    fn write(&self, p: &'static PropertyInfo, w: &mut PropertyWriter<'_>) {
        w.list(p, self.iter().map(AsScalar::as_scalar));
    }
}

impl<T: AsScalar> Value for [T] {
    fn write(&self, p: &'static PropertyInfo, w: &mut PropertyWriter<'_>) {
        w.list(p, self.iter().map(AsScalar::as_scalar));
    }
}

impl<T: Values> AsScalar for T {
    #[inline]
    fn as_scalar(&self) -> Scalar<'_> {
        Scalar::Enum(self.wire())
    }
}

macro_rules! scalar {
    ($($t:ty => |$v:ident| $e:expr;)*) => {
        $(impl AsScalar for $t {
            #[inline]
            fn as_scalar(&self) -> Scalar<'_> {
                let $v = self;
                $e
            }
        })*
    };
}

scalar! {
    String => |v| Scalar::Str(v);
    &str => |v| Scalar::Str(v);
    Cow<'_, str> => |v| Scalar::Str(v);
    Box<str> => |v| Scalar::Str(v);
    Arc<str> => |v| Scalar::Str(v);
    i8 => |v| Scalar::Int(i64::from(*v));
    i16 => |v| Scalar::Int(i64::from(*v));
    i32 => |v| Scalar::Int(i64::from(*v));
    i64 => |v| Scalar::Int(*v);
    u8 => |v| Scalar::Int(i64::from(*v));
    u16 => |v| Scalar::Int(i64::from(*v));
    u32 => |v| Scalar::Int(i64::from(*v));
    u64 => |v| i64::try_from(*v).map_or(Scalar::Overflow, Scalar::Int);
    usize => |v| i64::try_from(*v).map_or(Scalar::Overflow, Scalar::Int);
    isize => |v| i64::try_from(*v).map_or(Scalar::Overflow, Scalar::Int);
    i128 => |v| i64::try_from(*v).map_or(Scalar::Overflow, Scalar::Int);
    u128 => |v| i64::try_from(*v).map_or(Scalar::Overflow, Scalar::Int);
    f32 => |v| Scalar::Num(f64::from(*v));
    f64 => |v| Scalar::Num(*v);
    bool => |v| Scalar::Bool(*v);
    Timestamp => |v| Scalar::Time(*v);
    std::time::SystemTime => |v| Scalar::Time(Timestamp::from(*v));
}

impl<T: AsScalar> AsScalar for Personal<T> {
    #[inline]
    fn as_scalar(&self) -> Scalar<'_> {
        self.expose().as_scalar()
    }
}

impl<T: AsScalar> AsScalar for Special<T> {
    #[inline]
    fn as_scalar(&self) -> Scalar<'_> {
        self.expose().as_scalar()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn needs_escape_flags_exactly_what_json_escapes() {
        for b in 0u8..=0x7f {
            for at in 0..20 {
                let mut text = vec![b'a'; 20];
                text[at] = b;
                let expected = b < 0x20 || b == b'"' || b == b'\\';
                assert_eq!(super::needs_escape(&text), expected, "byte {b:#x} at {at}");
            }
        }
        for clean in [
            "",
            "sku-4711-blue-xl",
            "Health & Beauty",
            "é ü 漢字 🎉",
            "a'b/c<d>",
        ] {
            assert!(!super::needs_escape(clean.as_bytes()), "{clean}");
        }
        for text in [
            "x\u{7f}y",
            "line\nbreak",
            "tab\there",
            "quote\"d",
            "back\\slash",
        ] {
            let mut out = Vec::new();
            super::write_json_str(&mut out, text);
            let back: String = serde_json::from_slice(&out).unwrap_or_default();
            assert_eq!(back, text);
        }
    }

    use super::*;
    use crate::plan::{Constraints, Granularity, Sensitivity, ValueKind};

    const fn prop(
        id: &'static str,
        json_key: &'static str,
        kind: ValueKind,
        transform: TransformInfo,
        constraints: Constraints,
    ) -> PropertyInfo {
        PropertyInfo {
            id,
            name: id,
            json_key,
            kind,
            sensitivity: Sensitivity::Internal,
            category: None,
            transform,
            required: true,
            constraints,
        }
    }

    const NO_LIMITS: Constraints = crate::plan::constraints(None, None, None);
    const STRING: ValueKind = ValueKind::String;

    static EMAIL: PropertyInfo = prop(
        "email",
        "\"email\":",
        STRING,
        TransformInfo::Hmac { lowercase: true },
        NO_LIMITS,
    );
    static TOKEN: PropertyInfo = prop(
        "token_id",
        "\"Token\":",
        STRING,
        TransformInfo::Hmac { lowercase: false },
        NO_LIMITS,
    );
    static IP: PropertyInfo = prop(
        "ip",
        "\"IP\":",
        STRING,
        TransformInfo::TruncateIp,
        NO_LIMITS,
    );
    static URL: PropertyInfo = prop(
        "url",
        "\"URL\":",
        STRING,
        TransformInfo::StripQuery,
        NO_LIMITS,
    );
    static AGE: PropertyInfo = prop(
        "age",
        "\"Age\":",
        ValueKind::Integer,
        TransformInfo::Bucket(&[18.0, 25.0, 35.0, 50.0, 65.0]),
        crate::plan::constraints(None, Some(0.0), Some(130.0)),
    );
    static ORDERED: PropertyInfo = prop(
        "ordered_at",
        "\"Ordered At\":",
        ValueKind::Timestamp,
        TransformInfo::Coarsen(Granularity::Day),
        NO_LIMITS,
    );
    static SEEN: PropertyInfo = prop(
        "seen",
        "\"Seen\":",
        ValueKind::Timestamp,
        TransformInfo::None,
        NO_LIMITS,
    );
    static QUERY: PropertyInfo = prop(
        "query",
        "\"Query\":",
        STRING,
        TransformInfo::Redact,
        crate::plan::constraints(Some(5), None, None),
    );
    static PRICE: PropertyInfo = prop(
        "price",
        "\"Price\":",
        ValueKind::Number,
        TransformInfo::None,
        crate::plan::constraints(None, Some(0.0), None),
    );
    static IDS: PropertyInfo = prop(
        "ids",
        "\"IDs\":",
        ValueKind::List { item: &STRING },
        TransformInfo::None,
        crate::plan::constraints(Some(3), None, None),
    );

    fn test_key() -> Key {
        Key::from_bytes([0x5a; 32]).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Writes with `f`, returning (shared, first party, dropped count).
    fn render(
        key: Option<&Key>,
        policy: ViolationPolicy,
        f: impl FnOnce(&mut PropertyWriter<'_>),
    ) -> (String, String, u32) {
        let (mut shared, mut fp) = (b"{".to_vec(), Vec::new());
        let mut w = PropertyWriter::with_context(&mut shared, &mut fp, key, policy);
        f(&mut w);
        let dropped = w.dropped();
        shared.push(b'}');
        let text = |b: Vec<u8>| String::from_utf8(b).unwrap_or_default();
        (text(shared), text(fp), dropped)
    }

    fn hmac_hex(data: &str) -> String {
        let mut s = String::new();
        crate::key::push_hex(
            &mut s,
            &crate::key::hmac_sha256(&[0x5a; 32], data.as_bytes()),
        );
        s
    }

    #[test]
    fn hmac_trims_lowercases_e_mail_and_never_writes_the_input() {
        let key = test_key();
        let (out, _, dropped) = render(Some(&key), ViolationPolicy::Drop, |w| {
            Personal::<String>::from(" Alice@Example.COM ").write(&EMAIL, w);
            "  AbC  ".write(&TOKEN, w);
        });
        let want = format!(
            "{{\"email\":\"{}\",\"Token\":\"{}\"}}",
            hmac_hex("alice@example.com"),
            hmac_hex("AbC")
        );
        assert_eq!(out, want);
        assert_eq!(dropped, 0);
        assert!(!out.to_lowercase().contains("alice"));
    }

    #[test]
    fn hmac_without_a_key_drops_the_value() {
        let (out, _, dropped) = render(None, ViolationPolicy::Drop, |w| {
            Personal::<String>::from("alice@example.com").write(&EMAIL, w);
        });
        assert_eq!((out.as_str(), dropped), ("{}", 1));
    }

    #[test]
    fn truncate_ip_writes_the_network_and_drops_garbage() {
        let (out, _, dropped) = render(None, ViolationPolicy::Drop, |w| {
            "203.0.113.77".write(&IP, w);
            "alice@example.com".write(&IP, w);
            "2001:db8:1234:5678::1".write(&IP, w);
        });
        assert_eq!(out, r#"{"IP":"203.0.113.0","IP":"2001:db8:1234::"}"#);
        assert_eq!(dropped, 1);
    }

    #[test]
    fn strip_query_bucket_and_coarsen() {
        let t = Timestamp::from_utc(2026, 11, 29, 0, 12, 4, 0).unwrap_or(Timestamp::now());
        let (out, _, dropped) = render(None, ViolationPolicy::Drop, |w| {
            "https://shop.example/a?e=x@y.z#f"
                .to_string()
                .write(&URL, w);
            40u8.write(&AGE, w);
            t.write(&ORDERED, w);
            t.write(&SEEN, w);
        });
        assert_eq!(
            out,
            r#"{"URL":"https://shop.example/a","Age":"35-49","Ordered At":"2026-11-29T00:00:00.000Z","Seen":"2026-11-29T00:12:04.000Z"}"#
        );
        assert_eq!(dropped, 0);
    }

    #[test]
    fn redact_goes_to_the_first_party_buffer_only() {
        let (out, fp, _) = render(None, ViolationPolicy::Drop, |w| {
            "shoe".write(&QUERY, w);
            19.5f64.write(&PRICE, w);
            "hat".write(&QUERY, w);
        });
        assert_eq!(out, r#"{"Price":19.5}"#);
        assert_eq!(fp, r#""Query":"shoe","Query":"hat""#);
    }

    #[test]
    fn constraints_drop_values_by_default() {
        let (out, fp, dropped) = render(None, ViolationPolicy::Drop, |w| {
            "toolong".write(&QUERY, w);
            "héllo".write(&QUERY, w); // 5 characters, 6 bytes: allowed
            (-1.0f64).write(&PRICE, w);
            f64::NAN.write(&PRICE, w);
            131i32.write(&AGE, w);
            (-1i64).write(&AGE, w);
            vec!["abc", "abcd"].write(&IDS, w);
            vec!["abc", "de"].write(&IDS, w);
            u64::MAX.write(&PRICE, w);
        });
        assert_eq!(out, r#"{"IDs":["abc","de"]}"#);
        assert_eq!(fp, r#""Query":"héllo""#);
        assert_eq!(dropped, 7);
    }

    #[test]
    fn panic_policy_names_the_property_never_the_value() {
        let caught = std::panic::catch_unwind(|| {
            render(None, ViolationPolicy::Panic, |w| {
                "secret-search".write(&QUERY, w);
            })
        });
        let payload = caught.err().unwrap_or_else(|| Box::new(String::new()));
        let msg = payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert!(
            msg.contains("`query`") && msg.contains("max_length of 5"),
            "{msg}"
        );
        assert!(!msg.contains("secret"), "{msg}");
    }

    #[test]
    fn scalar_debug_hides_the_value() {
        assert_eq!(
            format!("{:?}", Scalar::Str("alice@example.com")),
            "Scalar([redacted])"
        );
    }
}
