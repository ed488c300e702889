use std::fmt;

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::KEY_ID;
use crate::Key;
use crate::error::KeyError;

type HmacSha256 = Hmac<Sha256>;

/// HKDF salt: separates this derivation from every other use of the key material.
const SALT: &[u8] = b"trackplan encryption at rest v1";
/// HKDF info of the cipher key.
const CIPHER_INFO: &[u8] = b"trackplan XChaCha20-Poly1305 key";
/// HKDF info of the public key id.
const ID_INFO: &[u8] = b"trackplan encryption key id";

/// One encryption key: XChaCha20-Poly1305, derived with HKDF-SHA-256 from key material.
///
/// [`SealKey::derive`] takes it from the tracker's [`Key`]; [`SealKey::from_hex`] and
/// [`SealKey::from_env`] from separate material (at least 32 random bytes). The same
/// material gives the same key either way, so the CLI's `--key-env` reads what a tracker
/// wrote with `SealKey::derive(&key)`. The HMAC key that pseudonymizes ids is never used as
/// the cipher key: the cipher key and the key id are two HKDF outputs under their own salt
/// and labels. `Debug` shows only the key id.
///
/// ```
/// # extern crate trackplan_runtime as trackplan;
/// use trackplan::Key;
/// use trackplan::crypt::SealKey;
///
/// let hex = "5c".repeat(32);
/// let key = Key::from_hex(&hex).unwrap();
/// let sealing = SealKey::derive(&key);
/// assert_eq!(sealing.id(), SealKey::from_hex(&hex).unwrap().id());
/// // The key id is public and differs from the pseudonymization key's id.
/// assert_ne!(sealing.id(), key.id());
/// assert_eq!(format!("{sealing:?}"), format!("SealKey {{ id: {:?}, .. }}", sealing.id()));
/// ```
#[derive(Clone)]
pub struct SealKey {
    pub(super) id: [u8; KEY_ID],
    cipher: XChaCha20Poly1305,
}

impl SealKey {
    /// The encryption key derived from the tracker's key.
    pub fn derive(key: &Key) -> SealKey {
        SealKey::from_material(key.material())
    }

    /// A key from separate raw material (at least 32 bytes).
    pub fn from_bytes(bytes: impl AsRef<[u8]>) -> Result<SealKey, KeyError> {
        // `Key` checks the length and keeps the material the same way.
        Ok(SealKey::derive(&Key::from_bytes(bytes)?))
    }

    /// A key from hex text (at least 64 digits).
    pub fn from_hex(hex: &str) -> Result<SealKey, KeyError> {
        Ok(SealKey::derive(&Key::from_hex(hex)?))
    }

    /// A key from an environment variable holding hex text.
    pub fn from_env(var: &str) -> Result<SealKey, KeyError> {
        Ok(SealKey::derive(&Key::from_env(var)?))
    }

    fn from_material(ikm: &[u8]) -> SealKey {
        // HKDF-SHA-256 (RFC 5869): extract with the salt, expand each output in one block.
        let prk = Zeroizing::new(hmac(SALT, &[ikm]));
        let cipher_key = Zeroizing::new(hmac(&*prk, &[CIPHER_INFO, &[1]]));
        let id_bytes = hmac(&*prk, &[ID_INFO, &[1]]);
        let mut id = [0; KEY_ID];
        id.copy_from_slice(&id_bytes[..KEY_ID]);
        let cipher = XChaCha20Poly1305::new(&(*cipher_key).into());
        SealKey { id, cipher }
    }

    /// The key id (8 hex digits), written in every record this key seals.
    pub fn id(&self) -> String {
        let mut id = String::with_capacity(2 * KEY_ID);
        crate::key::push_hex(&mut id, &self.id);
        id
    }

    /// Appends `key id | nonce | ciphertext | tag` of `plain` to `out`.
    pub(super) fn seal(&self, aad: &[u8], plain: &[u8], out: &mut Vec<u8>) {
        let mut nonce = [0u8; 24];
        // A failing system random source leaves no safe nonce: trackplan cannot go on
        // writing without reusing one, and it must not write plaintext instead.
        if let Err(e) = getrandom::fill(&mut nonce) {
            panic!("the system random source failed while sealing a record: {e}");
        }
        out.extend_from_slice(&self.id);
        out.extend_from_slice(&nonce);
        let start = out.len();
        out.extend_from_slice(plain);
        let nonce = XNonce::from(nonce);
        let tag = self
            .cipher
            .encrypt_inout_detached(&nonce, aad, (&mut out[start..]).into())
            .unwrap_or_else(|_| unreachable!("records are far below the cipher's limit"));
        out.extend_from_slice(&tag);
    }

    /// The plaintext of `ciphertext | tag` under `nonce`, or `None` if it does not
    /// authenticate.
    pub(super) fn open(&self, aad: &[u8], nonce: &[u8; 24], body: &[u8]) -> Option<Vec<u8>> {
        let (ciphertext, tag) = body.split_at_checked(body.len().checked_sub(16)?)?;
        let mut plain = ciphertext.to_vec();
        let tag: [u8; 16] = tag.try_into().ok()?;
        self.cipher
            .decrypt_inout_detached(
                &XNonce::from(*nonce),
                aad,
                plain.as_mut_slice().into(),
                &tag.into(),
            )
            .ok()?;
        Some(plain)
    }
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac =
        HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!("any key length"));
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealKey")
            .field("id", &self.id())
            .finish_non_exhaustive()
    }
}
