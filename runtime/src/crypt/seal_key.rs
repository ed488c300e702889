use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

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
    nonces: Arc<Nonces>,
}

/// Where nonces come from: 16 random bytes drawn once per key (per process), then a counter
/// shared by every clone, so no two records sealed by this key in this process share a
/// nonce, and keys loaded by other processes or runs differ in the random part (2^-128
/// chance of a shared prefix) — without a system call per record.
struct Nonces {
    prefix: Option<[u8; 16]>,
    next: AtomicU64,
}

impl Nonces {
    fn new() -> Nonces {
        let mut prefix = [0u8; 16];
        Nonces {
            prefix: getrandom::fill(&mut prefix).ok().map(|()| prefix),
            next: AtomicU64::new(0),
        }
    }

    fn next(&self) -> [u8; 24] {
        let mut nonce = [0u8; 24];
        match self.prefix {
            Some(prefix) => {
                nonce[..16].copy_from_slice(&prefix);
                let n = self.next.fetch_add(1, Ordering::Relaxed);
                nonce[16..].copy_from_slice(&n.to_le_bytes());
            }
            // The random source failed when the key was made: draw each nonce. If it still
            // fails there is no safe nonce, and trackplan must not write plaintext instead.
            None => {
                if let Err(e) = getrandom::fill(&mut nonce) {
                    panic!("the system random source failed while sealing a record: {e}");
                }
            }
        }
        nonce
    }
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
        SealKey {
            id,
            cipher,
            nonces: Arc::new(Nonces::new()),
        }
    }

    /// The key id (8 hex digits), written in every record this key seals.
    pub fn id(&self) -> String {
        let mut id = String::with_capacity(2 * KEY_ID);
        crate::key::push_hex(&mut id, &self.id);
        id
    }

    /// Appends `key id | nonce | ciphertext | tag` of `plain` to `out`.
    pub(super) fn seal(&self, aad: &[u8], plain: &[u8], out: &mut Vec<u8>) {
        let nonce = self.nonces.next();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seal_has_its_own_nonce_and_opens_only_untouched() {
        let key = SealKey::from_hex(&"42".repeat(32)).unwrap_or_else(|e| panic!("{e}"));
        let clone = key.clone();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        key.seal(b"aad", b"same text", &mut a);
        clone.seal(b"aad", b"same text", &mut b);
        assert_ne!(
            a[4..28],
            b[4..28],
            "clones share the counter: distinct nonces"
        );
        assert_ne!(a, b);
        for sealed in [&a, &b] {
            let nonce: [u8; 24] = sealed[4..28].try_into().unwrap_or([0; 24]);
            assert_eq!(
                key.open(b"aad", &nonce, &sealed[28..]).as_deref(),
                Some(b"same text".as_slice())
            );
            assert_eq!(
                key.open(b"other", &nonce, &sealed[28..]),
                None,
                "bound to its store"
            );
        }
        let mut flipped = a.clone();
        flipped[30] ^= 1;
        let nonce: [u8; 24] = flipped[4..28].try_into().unwrap_or([0; 24]);
        assert_eq!(key.open(b"aad", &nonce, &flipped[28..]), None);
    }
}
