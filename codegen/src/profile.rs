//! The items of `[traits]`, `[groups]` and `[context]`: the `Profile` update, one struct per
//! group kind (the group and an update of its profile), and the `Context` struct.
//!
//! An update holds one `TraitOp` per trait and has one builder method per operation that fits
//! the trait's type (`ProfileOp::fits`): `set_<id>`, `set_once_<id>` and `unset_<id>` for every
//! trait, `add_<id>` for numbers, `union_<id>`/`remove_<id>` for lists. So an undeclared
//! trait, a value of the wrong type or `add` on a string is a compile error at the call. The
//! shapes are the ones `runtime/src/update.rs` and `context.rs` document.

use std::collections::HashSet;

use proc_macro2::Ident;
use trackplan_model::naming::{self, FieldNames, PlanNames, TRAIT_OPS, trait_methods};
use trackplan_model::{Plan, Property, PropertyType, SourceFile};
use trackplan_vocab::ProfileOp;

use crate::code::Code;
use crate::doc::{self, Doc};
use crate::event::location;
use crate::ident::ident;
use crate::names::EnumItem;
use crate::ty::{EnumType, Std, describe, rust_type};

/// One trait (or context property) to generate: its plan entry, its field and its enum.
struct Field<'p> {
    /// Index in the plan's list (and in `PlanInfo`'s).
    index: usize,
    property: &'p Property,
    /// The property as a value: `required`, so its type has no `Option`.
    value: Property,
    field: Ident,
    enum_item: Option<EnumItem<'p>>,
}

/// Writes every item of the three sections of `plan` (nothing when it has none of them).
pub(crate) fn sections(out: &mut Code, plan: &Plan, src: &SourceFile, std: Std) {
    let names = PlanNames::of(plan);
    let mut skipped = Vec::new();
    if !plan.traits.is_empty() {
        let fields = fields(&plan.traits, &names.traits, "traits", &mut skipped);
        enums(out, src, &fields);
        let mut docs = Doc::new();
        docs.line("An update of the user's profile (the plan's `[traits]`): start with `Profile::new()`, chain one method per trait and operation, and pass it to `Subject::update_profile`.");
        docs.paragraph();
        docs.line("Each trait goes only to the destinations its purposes reach, with the subject's consent, through its transform.");
        update(out, src, None, "Profile", &docs, None, &fields, std);
        write!(
            out,
            "#[doc(hidden)]
impl ::trackplan::__private::Sealed for Profile {{}}

impl ::trackplan::__private::ProfileUpdate for Profile {{
    const PLAN: &'static ::trackplan::__private::PlanInfo = &PLAN;
    fn write_traits(&self, w: &mut ::trackplan::__private::TraitWriter<'_>) {{
{calls}    }}
}}

",
            calls = write_calls(
                "<Self as ::trackplan::__private::ProfileUpdate>::PLAN.traits",
                &fields
            ),
        );
    }
    for (kind, (g, n)) in plan.groups.iter().zip(&names.groups).enumerate() {
        let Some(name) = ident(&n.struct_name) else {
            continue;
        };
        let key = format!("groups.{}.traits", g.id.value);
        let fields = fields(&g.traits, &n.traits, &key, &mut skipped);
        enums(out, src, &fields);
        let mut docs = Doc::described(g.description.as_ref());
        docs.line(format_args!(
            "A group of kind {}, identified by its key {} ({}); declared at {}.",
            doc::code(&g.id.value),
            doc::wire(&g.key.name.value),
            describe(&g.key.ty.value),
            doc::code(&location(src, g.id.span.start)),
        ));
        docs.paragraph();
        docs.line(format_args!(
            "`Subject::join({name}::new(key))` makes the subject a member; `Subject::update_group({name}::new(key).set_…(…))` updates the group's profile. Purposes: {}.",
            doc::ids(g.purposes.value.iter().map(|p| p.value.as_str()))
        ));
        let mut key_value = g.key.clone();
        key_value.required.value = true;
        let key_ty = rust_type(&key_value, None, std).to_string();
        update(
            out,
            src,
            Some((g.id.value.as_str(), &g.key)),
            &name.to_string(),
            &docs,
            Some(&key_ty),
            &fields,
            std,
        );
        write!(
            out,
            "#[doc(hidden)]
impl ::trackplan::__private::Sealed for {name} {{}}

impl ::trackplan::__private::Group for {name} {{
    const PLAN: &'static ::trackplan::__private::PlanInfo = &PLAN;
    const KIND: usize = {kind};
    #[inline]
    fn write_key(
        &self,
        key: &'static ::trackplan::__private::PropertyInfo,
        w: &mut ::trackplan::__private::PropertyWriter<'_>,
    ) {{
        ::trackplan::__private::Value::write(&self.__key, key, w);
    }}
}}

impl ::trackplan::__private::GroupUpdate for {name} {{
    fn write_traits(&self, w: &mut ::trackplan::__private::TraitWriter<'_>) {{
{calls}    }}
}}

",
            calls = write_calls(
                &format!("<Self as ::trackplan::__private::Group>::PLAN.groups[{kind}].traits"),
                &fields
            ),
        );
    }
    if !plan.context.is_empty() {
        let properties: Vec<Property> = plan.context.iter().map(|c| c.property.clone()).collect();
        let fields = fields(&properties, &names.context, "context", &mut skipped);
        enums(out, src, &fields);
        let mut docs = Doc::new();
        docs.line("The plan's context properties (`[context]`): set them once with `TrackerBuilder::context`, or per subject with `Subject::set_context`; each is sent with the events it applies to. A `None` leaves the value set before.");
        write!(
            out,
            "{docs}#[derive(Clone, Default)]\npub struct Context {{\n",
            docs = docs.attr()
        );
        for f in &fields {
            let c = &plan.context[f.index];
            let mut d = property_doc(src, "Context property", f.property);
            match &c.events {
                None => d.line("- Sent with every event"),
                Some(ids) => d.line(format_args!(
                    "- Sent with: {}",
                    doc::ids(ids.value.iter().map(|e| e.value.as_str()))
                )),
            };
            let enum_ty = f.enum_item.as_ref().map(|e| EnumType::Named(&e.ident));
            writeln!(
                out,
                "    {docs}    pub {name}: {ty},",
                docs = d.attr(),
                name = f.field,
                ty = rust_type(f.property, enum_ty, std),
            );
        }
        write!(
            out,
            "}}

#[doc(hidden)]
impl ::trackplan::__private::Sealed for Context {{}}

impl ::trackplan::__private::ContextProperties for Context {{
    const PLAN: &'static ::trackplan::__private::PlanInfo = &PLAN;
    fn write_context(&self, w: &mut ::trackplan::__private::ContextWriter<'_>) {{
{calls}    }}
}}

",
            calls = write_calls(
                "<Self as ::trackplan::__private::ContextProperties>::PLAN.context",
                &fields
            ),
        );
        // Written out, not derived: a transformed value is printed as `[redacted]`.
        let shown: Vec<_> = fields
            .iter()
            .map(|f| (f.field.to_string(), f.field.to_string(), shows(f.property)))
            .collect();
        out.push(&debug_impl("Context", &shown));
    }
}

fn fields<'p>(
    list: &'p [Property],
    names: &[FieldNames],
    key: &str,
    skipped: &mut Vec<String>,
) -> Vec<Field<'p>> {
    let mut types = HashSet::new();
    let mut out = Vec::with_capacity(list.len());
    for (index, (p, n)) in list.iter().zip(names).enumerate() {
        let Some(field) = ident(&n.field) else {
            skipped.push(format!(
                "`{}`: `{}` is not an identifier",
                p.id.value, n.field
            ));
            continue;
        };
        let enum_item = match &n.enum_names {
            None => None,
            Some(e) => {
                let mut enums = Vec::new();
                let mut none = Vec::new();
                crate::names::push_enum(
                    &mut enums,
                    &mut types,
                    &mut none,
                    p,
                    format!("{key}.{}", p.id.value),
                    e,
                );
                match enums.pop() {
                    Some(e) => Some(e),
                    None => continue,
                }
            }
        };
        let mut value = p.clone();
        value.required.value = true;
        out.push(Field {
            index,
            property: p,
            value,
            field,
            enum_item,
        });
    }
    out
}

fn enums(out: &mut Code, src: &SourceFile, fields: &[Field<'_>]) {
    for f in fields {
        if let Some(e) = &f.enum_item {
            crate::values::enum_type(out, src, e);
        }
    }
}

/// The struct of an update (`Profile`, or a group kind's with its `key`), its constructor and
/// its builder methods.
#[allow(clippy::too_many_arguments)] // the parts of one generated struct
fn update(
    out: &mut Code,
    src: &SourceFile,
    group_key: Option<(&str, &Property)>,
    name: &str,
    docs: &Doc,
    key: Option<&str>,
    fields: &[Field<'_>],
    std: Std,
) {
    // A group has no default: it is always made from its key. Its `Debug` is written out
    // (`debug_impl`): a derived one would print the raw key.
    let derives = if key.is_some() {
        "Clone"
    } else {
        "Debug, Clone, Default"
    };
    write!(
        out,
        "{docs}#[derive({derives})]\npub struct {name} {{\n",
        docs = docs.attr()
    );
    let mut deferred_debug = None;
    if let Some(key) = key {
        // Not `key`: a group trait may be called that.
        writeln!(out, "    __key: {key},");
    }
    if let Some((_, p)) = group_key {
        let mut shown = vec![("key".to_owned(), "__key".to_owned(), shows(p))];
        // `TraitOp`'s own `Debug` never prints a value.
        shown.extend(
            fields
                .iter()
                .map(|f| (f.field.to_string(), f.field.to_string(), true)),
        );
        deferred_debug = Some(debug_impl(name, &shown));
    }
    for f in fields {
        let enum_ty = f.enum_item.as_ref().map(|e| EnumType::Named(&e.ident));
        writeln!(
            out,
            "    {name}: ::trackplan::__private::TraitOp<{ty}>,",
            name = f.field,
            ty = rust_type(&f.value, enum_ty, std),
        );
    }
    out.push("}\n\n");
    if let Some(debug) = deferred_debug {
        out.push(&debug);
    }
    writeln!(out, "impl {name} {{");
    match key {
        None => out.push(
            "    /// An update that touches no trait yet.
    pub fn new() -> Self {
        Self::default()
    }
",
        ),
        Some(key) => {
            write!(
                out,
                "    /// The group with this key; as an update, it touches no trait yet.
    pub fn new(key: impl __{name}_ops::key) -> Self {{
        {name} {{
            __key: __{name}_ops::key::into_value(key),
{rest}        }}
    }}

    /// The group's key, as given to [`{name}::new`].
    pub fn key(&self) -> &{key} {{
        &self.__key
    }}
",
                rest = Rest(fields),
            );
        }
    }
    let mut misfits = Vec::new();
    if let (Some(ty), Some((kind, p))) = (key, group_key) {
        let message = format!(
            "`{{Self}}` cannot be the key of group kind `{kind}` (plan type: {})",
            describe(&p.ty.value)
        );
        let mut items = format!(
            "    #[diagnostic::on_unimplemented(message = {}, label = {}, note = {})]
    pub trait key {{
        #[doc(hidden)]
        fn into_value(self) -> {ty};
    }}
",
            crate::code::lit(&message),
            crate::code::lit(&format!(
                "expected `{}` or a type that converts into it",
                escape(ty)
            )),
            crate::code::lit(&format!(
                "the key of group kind `{kind}` is declared at {}",
                escape(&location(src, p.id.span.start))
            )),
        );
        for source in sources(&p.ty.value, p.sensitivity.value, ty, None, std) {
            items.push_str(&format!(
                "
    impl key for {source} {{
        #[inline]
        fn into_value(self) -> {ty} {{
            ::core::convert::Into::into(self)
        }}
    }}
"
            ));
        }
        misfits.push(items);
    }
    for f in fields {
        methods(out, src, name, f, std, &mut misfits);
    }
    out.push("}\n\n");
    if !misfits.is_empty() {
        write!(
            out,
            "/// What the methods of [`{name}`] accept: a value trait per trait (anything that converts
/// into its type), and marker traits of the operations that do not fit a trait, never
/// implemented. Both make a wrong call a compile error that names the plan.
#[doc(hidden)]
#[allow(non_camel_case_types, non_snake_case)]
pub mod __{name}_ops {{
    #[allow(unused_imports)]
    use super::*;

{misfits}}}

",
            misfits = misfits.concat(),
        );
    }
}

/// `field: TraitOp::Untouched,` for each field of a group's constructor.
struct Rest<'a, 'p>(&'a [Field<'p>]);

impl std::fmt::Display for Rest<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for field in self.0 {
            writeln!(
                f,
                "            {}: ::trackplan::__private::TraitOp::Untouched,",
                field.field
            )?;
        }
        Ok(())
    }
}

fn methods(
    out: &mut Code,
    src: &SourceFile,
    owner: &str,
    f: &Field<'_>,
    std: Std,
    misfits: &mut Vec<String>,
) {
    let p = f.property;
    let shape = naming::trait_shape(&p.ty.value);
    let enum_ty = || f.enum_item.as_ref().map(|e| EnumType::Named(&e.ident));
    let value_ty = rust_type(&f.value, enum_ty(), std).to_string();
    let item_ty = match &p.ty.value {
        PropertyType::List { items } => {
            let mut item = f.value.clone();
            item.ty.value = (**items).clone();
            Some(rust_type(&item, enum_ty(), std).to_string())
        }
        _ => None,
    };
    let location = location(src, p.id.span.start);
    let value_trait = format!("value_{}", f.index);
    if item_ty.is_none() {
        // What a value-taking method accepts: anything that converts into the trait's type,
        // with an error that names the trait and the plan when it does not.
        let message = format!(
            "`{{Self}}` cannot be the value of trait `{}` (plan type: {})",
            p.id.value,
            describe(&p.ty.value)
        );
        let label = format!(
            "expected `{}` or a type that converts into it",
            escape(&value_ty)
        );
        let note = format!(
            "trait `{}` is declared at {}",
            p.id.value,
            escape(&location)
        );
        let mut items = format!(
            "    #[diagnostic::on_unimplemented(message = {}, label = {}, note = {})]
    pub trait {value_trait} {{
        #[doc(hidden)]
        fn into_value(self) -> {value_ty};
    }}
",
            crate::code::lit(&message),
            crate::code::lit(&label),
            crate::code::lit(&note),
        );
        // One impl per accepted type, not a blanket `Into` impl: then a wrong type fails on
        // this trait itself, and rustc shows its message (and lists the types that fit).
        let enum_name = f.enum_item.as_ref().map(|e| e.ident.to_string());
        for source in sources(
            &p.ty.value,
            p.sensitivity.value,
            &value_ty,
            enum_name.as_deref(),
            std,
        ) {
            items.push_str(&format!(
                "
    impl {value_trait} for {source} {{
        #[inline]
        fn into_value(self) -> {value_ty} {{
            ::core::convert::Into::into(self)
        }}
    }}
"
            ));
        }
        misfits.push(items);
    }
    for (op, method) in TRAIT_OPS.iter().zip(trait_methods(&p.id.value)) {
        if !op.fits(shape) {
            // A hidden method whose bound is never met: the error reads as a plan error
            // (which operations the trait has, where it is declared) instead of "no method".
            let marker = format!("{}_{}", op.key(), f.index);
            let fitting: Vec<String> = TRAIT_OPS
                .iter()
                .zip(trait_methods(&p.id.value))
                .filter(|(o, _)| o.fits(shape))
                .map(|(_, m)| format!("`{m}`"))
                .collect();
            let needs = match op {
                ProfileOp::Add => "integer and number traits",
                _ => "list traits",
            };
            let message = format!(
                "`{}` does not fit trait `{}`, which is {} {}: `{}` applies to {needs} only",
                method,
                p.id.value,
                article(&p.ty.value),
                describe(&p.ty.value),
                op.key(),
            );
            let note = format!(
                "trait `{}` is declared at {location}; its operations are {}",
                p.id.value,
                fitting.join(", ")
            );
            misfits.push(format!(
                "    #[diagnostic::on_unimplemented(message = {}, label = {}, note = {})]\n    pub trait {marker} {{}}\n",
                crate::code::lit(&escape(&message)),
                crate::code::lit(&format!("`{}` of a {} trait", op.key(), describe(&p.ty.value))),
                crate::code::lit(&escape(&note)),
            ));
            write!(
                out,
                "
    #[doc(hidden)]
    pub fn {method}<V>(self, _value: V) -> Self
    where
        V: __{owner}_ops::{marker},
    {{
        self
    }}
",
            );
            continue;
        }
        let what = match op {
            ProfileOp::Set => "Sets",
            ProfileOp::SetOnce => "Sets, unless the profile has a value already,",
            ProfileOp::Add => "Adds a number to",
            ProfileOp::Union => "Adds the items the list does not hold yet to",
            ProfileOp::Remove => "Removes these items from",
            ProfileOp::Unset => "Removes",
        };
        let line = format!(
            " {what} trait `{}` (sent as {}: {}; declared at `{location}`).",
            p.id.value,
            doc::wire(&p.name.value),
            describe(&p.ty.value),
        );
        let variant = match op {
            ProfileOp::Set => "Set",
            ProfileOp::SetOnce => "SetOnce",
            ProfileOp::Add => "Add",
            ProfileOp::Union => "Union",
            ProfileOp::Remove => "Remove",
            ProfileOp::Unset => "Unset",
        };
        let field = &f.field;
        let lit = crate::code::lit(&line);
        match (op, &item_ty) {
            (ProfileOp::Unset, _) => write!(
                out,
                "
    #[doc = {lit}]
    pub fn {method}(mut self) -> Self {{
        self.{field} = ::trackplan::__private::TraitOp::Unset;
        self
    }}
"
            ),
            (_, Some(item)) => write!(
                out,
                "
    #[doc = {lit}]
    pub fn {method}<I>(mut self, items: I) -> Self
    where
        I: ::core::iter::IntoIterator,
        I::Item: ::core::convert::Into<{item}>,
    {{
        self.{field} = ::trackplan::__private::TraitOp::{variant}(
            items.into_iter().map(::core::convert::Into::into).collect(),
        );
        self
    }}
"
            ),
            (_, None) => write!(
                out,
                "
    #[doc = {lit}]
    pub fn {method}(mut self, value: impl __{owner}_ops::{value_trait}) -> Self {{
        self.{field} = ::trackplan::__private::TraitOp::{variant}(__{owner}_ops::{value_trait}::into_value(value));
        self
    }}
"
            ),
        }
    }
}

/// The types a trait's value-taking methods accept, each converting into `value_ty` with
/// `Into`: the type itself, and the lossless conversions std and the runtime provide.
fn sources(
    ty: &PropertyType,
    sensitivity: trackplan_model::Sensitivity,
    value_ty: &str,
    enum_name: Option<&str>,
    std: Std,
) -> Vec<String> {
    let string = match std {
        Std::Prelude => "String",
        Std::Absolute => "::std::string::String",
    };
    let scalar: Vec<String> = match ty {
        PropertyType::String => vec![
            string.to_owned(),
            "&str".to_owned(),
            format!("&{string}"),
            "::std::boxed::Box<str>".to_owned(),
            "::std::borrow::Cow<'_, str>".to_owned(),
            "char".to_owned(),
        ],
        PropertyType::Integer => ["i64", "i32", "i16", "i8", "u32", "u16", "u8"]
            .map(str::to_owned)
            .to_vec(),
        PropertyType::Number => ["f64", "f32", "i32", "i16", "i8", "u32", "u16", "u8"]
            .map(str::to_owned)
            .to_vec(),
        PropertyType::Boolean => vec!["bool".to_owned()],
        PropertyType::Timestamp => vec!["::trackplan::__private::Timestamp".to_owned()],
        PropertyType::Enum { .. } => enum_name.map(str::to_owned).into_iter().collect(),
        // List traits take an iterator of items instead.
        PropertyType::List { .. } => Vec::new(),
    };
    use trackplan_model::Sensitivity::{Internal, Personal, Public, Special};
    match sensitivity {
        Public | Internal => scalar,
        // `Personal<T>` and `Special<T>` convert from `T` (and from `&str` for text); other
        // raw types must be wrapped by the caller.
        Personal | Special => {
            let mut out = vec![value_ty.to_owned()];
            if let Some(inner) = scalar.first() {
                out.push(inner.clone());
            }
            if matches!(ty, PropertyType::String) {
                out.push("&str".to_owned());
            }
            out
        }
    }
}

/// Whether `Debug` may print a group key's or context property's value: only data that is
/// neither personal nor special and is sent as is (a transform means the raw value is not
/// what the plan lets out).
fn shows(p: &Property) -> bool {
    use trackplan_model::Sensitivity::{Internal, Public};
    matches!(p.sensitivity.value, Public | Internal)
        && matches!(p.transform.value, trackplan_model::Transform::None)
}

/// A `Debug` impl for `name` printing `(label, field, shown)`: a field that is not `shown`
/// prints as `[redacted]`.
fn debug_impl(name: &str, fields: &[(String, String, bool)]) -> String {
    let mut s = format!(
        "impl ::core::fmt::Debug for {name} {{
    fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {{
        f.debug_struct({lit})
",
        lit = crate::code::lit(name)
    );
    for (label, field, shown) in fields {
        let value = if *shown {
            format!("&self.{field}")
        } else {
            "&::core::format_args!(\"[redacted]\")".to_owned()
        };
        s.push_str(&format!(
            "            .field({}, {value})\n",
            crate::code::lit(label.trim_start_matches("r#"))
        ));
    }
    s.push_str("            .finish()\n    }\n}\n\n");
    s
}

/// Escapes braces for `#[diagnostic::on_unimplemented]`, whose strings are format strings.
fn escape(text: &str) -> String {
    text.replace('{', "{{").replace('}', "}}")
}

/// "a" or "an" before a type in words.
fn article(ty: &PropertyType) -> &'static str {
    match ty {
        PropertyType::Integer | PropertyType::Enum { .. } => "an",
        _ => "a",
    }
}

/// The body of `write_traits` / `write_context`: one `write` per field, in plan order.
fn write_calls(list: &str, fields: &[Field<'_>]) -> String {
    if fields.is_empty() {
        return "        let _ = w;\n".to_owned();
    }
    let mut s = format!("        let t = {list};\n");
    for f in fields {
        s.push_str(&format!(
            "        w.write(&t[{}], &self.{});\n",
            f.index, f.field
        ));
    }
    s
}

/// The doc comment of a context property.
fn property_doc(src: &SourceFile, kind: &str, p: &Property) -> Doc {
    let mut docs = Doc::described(p.description.as_ref());
    docs.line(format_args!(
        "{kind} {}, sent as {}: {}; declared at {}.",
        doc::code(&p.id.value),
        doc::wire(&p.name.value),
        describe(&p.ty.value),
        doc::code(&location(src, p.id.span.start)),
    ));
    docs.paragraph();
    docs
}
