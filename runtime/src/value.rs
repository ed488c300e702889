//! Writing property values: the only road from an event field to the wire.
//!
//! Generated `Event::write_properties` calls [`Value::write`] for each field with the field's
//! static [`PropertyInfo`]. The writer applies the declared transform and appends `"key":value`
//! to one of two buffers: properties every destination may receive, and `redact` properties
//! that only first-party destinations receive.

use crate::event::Values;
use crate::plan::PropertyInfo;
use crate::sensitive::{Personal, Special};
use crate::time::Timestamp;
use std::borrow::Cow;
use std::sync::Arc;

/// One scalar value, borrowed from an event field.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
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

/// Appends properties, transformed, as JSON members (`"key":value`, comma-separated).
pub struct PropertyWriter<'a> {
    shared: &'a mut Vec<u8>,
    first_party: &'a mut Vec<u8>,
}

impl<'a> PropertyWriter<'a> {
    /// A writer appending to `shared` (every destination) and `first_party` (`redact`
    /// properties).
    pub fn new(shared: &'a mut Vec<u8>, first_party: &'a mut Vec<u8>) -> Self {
        PropertyWriter {
            shared,
            first_party,
        }
    }

    fn begin(&mut self, p: &'static PropertyInfo) -> &mut Vec<u8> {
        let buf = if matches!(p.transform, crate::plan::TransformInfo::Redact) {
            &mut *self.first_party
        } else {
            &mut *self.shared
        };
        if !buf.is_empty() {
            buf.push(b',');
        }
        buf.extend_from_slice(p.json_key.as_bytes());
        buf
    }

    /// Writes one scalar property.
    pub fn scalar(&mut self, p: &'static PropertyInfo, v: Scalar<'_>) {
        let buf = self.begin(p);
        write_scalar(buf, v);
    }

    /// Writes a list property.
    pub fn list<'v>(&mut self, p: &'static PropertyInfo, items: impl Iterator<Item = Scalar<'v>>) {
        let buf = self.begin(p);
        buf.push(b'[');
        for (i, v) in items.enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            write_scalar(buf, v);
        }
        buf.push(b']');
    }
}

fn write_scalar(buf: &mut Vec<u8>, v: Scalar<'_>) {
    match v {
        Scalar::Str(s) => write_json_str(buf, s),
        Scalar::Enum(s) => write_json_str(buf, s),
        Scalar::Int(i) => buf.extend_from_slice(i.to_string().as_bytes()),
        Scalar::Num(n) if n.is_finite() => buf.extend_from_slice(n.to_string().as_bytes()),
        Scalar::Num(_) => buf.extend_from_slice(b"null"),
        Scalar::Bool(b) => buf.extend_from_slice(if b { b"true" } else { b"false" }),
        Scalar::Time(t) => buf.extend_from_slice(t.unix_millis().to_string().as_bytes()),
    }
}

/// Appends `s` as a JSON string literal.
pub(crate) fn write_json_str(buf: &mut Vec<u8>, s: &str) {
    // serde_json's escaper is well tested; writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *buf, s);
}

impl<T: AsScalar> Value for T {
    fn write(&self, p: &'static PropertyInfo, w: &mut PropertyWriter<'_>) {
        w.scalar(p, self.as_scalar());
    }
}

impl<T: Value> Value for Option<T> {
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
    fn as_scalar(&self) -> Scalar<'_> {
        Scalar::Enum(self.wire())
    }
}

macro_rules! scalar {
    ($($t:ty => |$v:ident| $e:expr;)*) => {
        $(impl AsScalar for $t {
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
    f32 => |v| Scalar::Num(f64::from(*v));
    f64 => |v| Scalar::Num(*v);
    bool => |v| Scalar::Bool(*v);
    Timestamp => |v| Scalar::Time(*v);
    std::time::SystemTime => |v| Scalar::Time(Timestamp::from(*v));
}

impl<T: AsScalar> AsScalar for Personal<T> {
    fn as_scalar(&self) -> Scalar<'_> {
        self.expose().as_scalar()
    }
}

impl<T: AsScalar> AsScalar for Special<T> {
    fn as_scalar(&self) -> Scalar<'_> {
        self.expose().as_scalar()
    }
}
