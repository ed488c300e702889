//! Encryption at rest: what trackplan itself writes to disk (the spool, the consent ledger's
//! file, NDJSON files that opt in) sealed with XChaCha20-Poly1305.
//!
//! Every sealed record carries the id of the key that sealed it, so keys rotate: a
//! [`Keyring`] writes with its current key and reads with it or any old key it was given.
//! A record sealed with a key the keyring lacks, or altered after sealing, is an error naming
//! the key id; the file it is in is left as it was.
//!
//! ```text
//! sealed = key_id: 4 bytes | nonce: 24 random bytes | ciphertext | tag: 16 bytes
//! ```
//!
//! The associated data names the store (`trackplan spool`, `trackplan ledger`,
//! `trackplan ndjson`), so a record cannot be moved from one kind of file to another.
//! The key is derived with HKDF-SHA-256 from the tracker's [`Key`](crate::Key) material (or
//! from separate key material), domain-separated from the pseudonymization HMAC; see
//! `docs/encryption.md`.
//!
//! The error type is here in every build, so a build without the `encryption` feature that
//! finds an encrypted file says so instead of taking it for garbage.

mod crypt_error;
#[cfg(feature = "encryption")]
mod keyring;
#[cfg(feature = "encryption")]
mod seal_key;
#[cfg(feature = "encryption")]
pub(crate) mod sealed_ndjson;

pub use crypt_error::CryptError;
#[cfg(feature = "encryption")]
pub use keyring::Keyring;
#[cfg(feature = "encryption")]
pub use seal_key::SealKey;
#[cfg(feature = "encryption")]
pub use sealed_ndjson::SealedNdjson;

/// Bytes of the key id at the start of a sealed record.
pub(crate) const KEY_ID: usize = 4;
/// Bytes a sealed record adds to its plaintext: key id, nonce, tag.
#[cfg_attr(not(feature = "encryption"), allow(dead_code))]
pub(crate) const OVERHEAD: usize = KEY_ID + 24 + 16;

/// The key id of a sealed record, as hex (for errors).
pub(crate) fn key_id_of(sealed: &[u8]) -> String {
    let mut id = String::new();
    crate::key::push_hex(&mut id, sealed.get(..KEY_ID).unwrap_or_default());
    id
}

/// The keyring a store writes and reads with: `None` is a plain store. Without the
/// `encryption` feature there is no keyring type and every store is plain.
#[cfg(feature = "encryption")]
pub(crate) type Keys = Option<std::sync::Arc<Keyring>>;
/// The keyring a store writes and reads with: `None` is a plain store.
#[cfg(not(feature = "encryption"))]
pub(crate) type Keys = Option<std::sync::Arc<NoKeys>>;

/// Stands in for [`Keyring`] in builds without the `encryption` feature: never built.
#[cfg(not(feature = "encryption"))]
#[derive(Debug)]
pub(crate) enum NoKeys {}

#[cfg(not(feature = "encryption"))]
impl NoKeys {
    pub(crate) fn seal(&self, _: &[u8], _: &[u8], _: &mut Vec<u8>) {
        match *self {}
    }
    pub(crate) fn open(&self, _: &[u8], _: &[u8]) -> Result<Vec<u8>, CryptError> {
        match *self {}
    }
}

/// Opens `sealed` with `keys`, or says the store is encrypted and no key was given.
pub(crate) fn open_with(keys: &Keys, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptError> {
    match keys {
        Some(keys) => keys.open(aad, sealed),
        None => Err(CryptError::NoKey {
            key_id: key_id_of(sealed),
        }),
    }
}

/// What seals: the keyring, or in builds without the feature a type never built.
#[cfg(feature = "encryption")]
pub(crate) type Sealer = Keyring;
/// What seals: the keyring, or in builds without the feature a type never built.
#[cfg(not(feature = "encryption"))]
pub(crate) type Sealer = NoKeys;

/// The records framed in `plain` ([`crate::frame`]) with each body replaced by its sealed
/// form and framed again, so the checksum covers the sealed bytes and a torn write is found
/// as in a plain file.
pub(crate) fn seal_frames(keys: &Sealer, aad: &[u8], plain: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(plain.len() + 64);
    let mut at = 0;
    while let Some(Ok((taken, body))) = plain
        .get(at..)
        .filter(|b| !b.is_empty())
        .map(crate::frame::split)
    {
        let start = crate::frame::begin(&mut out);
        keys.seal(aad, body, &mut out);
        crate::frame::finish(&mut out, start);
        at += taken;
    }
    out
}
