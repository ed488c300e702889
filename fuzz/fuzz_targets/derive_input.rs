//! `#[derive(Event)]` and `#[derive(Values)]` input: any text that syn reads as a type
//! definition goes through both derives against the shop plan. They must never panic, and
//! what they emit (impls or errors with stand-ins) must parse as Rust items.
#![no_main]

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use trackplan_codegen::{LoadError, LoadedPlan, Loader, derive_event, derive_values};
use trackplan_model::SourceFile;

/// The plans the derives may name: the shop plan, and one with errors.
struct Plans {
    shop: Arc<LoadedPlan>,
    broken: Arc<LoadedPlan>,
}

static PLANS: LazyLock<Plans> = LazyLock::new(|| Plans {
    shop: plan("plans/shop.toml", include_str!("../../plans/shop.toml")),
    broken: plan(
        "plans/broken.toml",
        include_str!("../../tests/ui/plans/unknown_key.toml"),
    ),
});

fn plan(name: &str, text: &str) -> Arc<LoadedPlan> {
    Arc::new(LoadedPlan::from_source(
        PathBuf::from("/fuzz").join(name),
        SourceFile::new(name, text),
    ))
}

impl Loader for Plans {
    fn load(&self, written: &str) -> Result<Arc<LoadedPlan>, LoadError> {
        match written {
            "plans/shop.toml" => Ok(self.shop.clone()),
            "plans/broken.toml" => Ok(self.broken.clone()),
            _ => Err(LoadError::NoPlan),
        }
    }

    fn default_plan(&self) -> Result<String, LoadError> {
        Ok("plans/shop.toml".into())
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(input) = syn::parse_str::<syn::DeriveInput>(text) else {
        return;
    };
    for (derive, out) in [
        ("Event", derive_event(&input, &*PLANS)),
        ("Values", derive_values(&input, &*PLANS)),
    ] {
        if let Err(e) = syn::parse2::<syn::File>(out.clone()) {
            panic!("derive({derive}) emits what does not parse as items ({e}): {out}");
        }
    }
});
