//! DPoP (RFC 9449): a proof that the caller holds the private key its tokens are bound to.
//!
//! [`verify`] is the check a server makes of a `DPoP` header (§4.3): a JWT of type
//! `dpop+jwt`, signed with an asymmetric algorithm by the public key in its own header (and
//! no private key there), naming the request's method (`htm`) and URL without query and
//! fragment (`htu`), made recently (`iat`), with a unique `jti`, and on a resource request
//! the hash of the access token it goes with (`ath`). The key's thumbprint (RFC 7638, `jkt`)
//! is what tokens are bound to (`cnf.jkt`). [`ReplayCache`] refuses a `jti` seen before
//! within the window; [`Nonces`] issues and checks server nonces (§8, §9).
//!
//! [`ProofKey`] makes proofs: latchkey-auth's client side, and the tests'.

#![warn(missing_docs)]

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// The proof's JWT type.
pub const PROOF_TYPE: &str = "dpop+jwt";
/// The algorithms accepted for proofs: asymmetric only (§4.3 refuses `none` and MACs).
pub const ALGORITHMS: [Algorithm; 5] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::EdDSA,
];
/// The names of [`ALGORITHMS`], as discovery and `WWW-Authenticate` list them.
pub const ALGORITHM_NAMES: &str = "ES256 ES384 RS256 PS256 EdDSA";
/// A proof older than this (seconds) is refused; the replay cache keeps `jti`s this long.
pub const MAX_AGE: u64 = 300;
/// A proof made this far (seconds) in the future is accepted (clock skew), no further.
pub const MAX_SKEW: u64 = 60;
/// The longest `jti` accepted.
pub const MAX_JTI: usize = 256;

/// What is wrong with a proof, in words for the `error_description`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// No `DPoP` header.
    #[error("the request has no DPoP proof")]
    Missing,
    /// More than one `DPoP` header (§4.3 allows one).
    #[error("the request has more than one DPoP header")]
    Several,
    /// Not a JWT, or one without the header or claims a proof has.
    #[error("the DPoP proof is malformed: {0}")]
    Malformed(&'static str),
    /// `typ` is not `dpop+jwt`.
    #[error("the DPoP proof's type is not dpop+jwt")]
    Type,
    /// `alg` is not one of [`ALGORITHMS`].
    #[error("the DPoP proof's algorithm is not accepted (use one of {ALGORITHM_NAMES})")]
    Algorithm,
    /// The header's `jwk` carries private key material.
    #[error("the DPoP proof's header holds a private key")]
    PrivateKey,
    /// The signature is not by the header's key.
    #[error("the DPoP proof's signature does not verify with its key")]
    Signature,
    /// `htm` is not the request's method.
    #[error("the DPoP proof is for another method")]
    Method,
    /// `htu` is not the request's URL.
    #[error("the DPoP proof is for another URL")]
    Url,
    /// `iat` is more than [`MAX_AGE`] ago.
    #[error("the DPoP proof is too old")]
    TooOld,
    /// `iat` is more than [`MAX_SKEW`] ahead.
    #[error("the DPoP proof is from the future")]
    FromTheFuture,
    /// `ath` is missing or not the access token's hash.
    #[error("the DPoP proof's ath is not the access token's hash")]
    AccessTokenHash,
    /// The `jti` was seen within the window.
    #[error("the DPoP proof was used before")]
    Replayed,
    /// The proof lacks the server's current nonce.
    #[error("the DPoP proof has no valid nonce")]
    Nonce,
    /// The proof's key is not the one the token names (`cnf.jkt`).
    #[error("the DPoP proof's key is not the one the token is bound to")]
    WrongKey,
}

/// The request a proof must be for.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The HTTP method, as sent (`GET`, `POST`).
    pub method: &'a str,
    /// The URL the request was sent to; its query and fragment are not compared.
    pub url: &'a str,
    /// On a resource request, the access token sent with it (the proof's `ath` must hash it).
    pub access_token: Option<&'a str>,
}

/// A proof that passed [`verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The key's RFC 7638 SHA-256 thumbprint, base64url: what `cnf.jkt` names.
    pub jkt: String,
    /// The proof's unique id.
    pub jti: String,
    /// When it was made (Unix seconds).
    pub iat: u64,
    /// The server nonce it carries, if any.
    pub nonce: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    jti: String,
    htm: String,
    htu: String,
    iat: u64,
    #[serde(default)]
    ath: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
}

/// Checks `proof` (the `DPoP` header's value) for `request` at `now` (Unix seconds). Replay
/// and nonces are the caller's: [`ReplayCache`], [`Nonces`].
pub fn verify(proof: &str, request: Request<'_>, now: u64) -> Result<Verified, ProofError> {
    let header =
        jsonwebtoken::decode_header(proof).map_err(|_| ProofError::Malformed("its header"))?;
    if header.typ.as_deref() != Some(PROOF_TYPE) {
        return Err(ProofError::Type);
    }
    if !ALGORITHMS.contains(&header.alg) {
        return Err(ProofError::Algorithm);
    }
    if holds_private_key(proof) {
        return Err(ProofError::PrivateKey);
    }
    let jwk = header
        .jwk
        .ok_or(ProofError::Malformed("no jwk in its header"))?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| ProofError::Malformed("its jwk"))?;
    let mut validation = Validation::new(header.alg);
    validation.set_required_spec_claims::<&str>(&[]);
    validation.validate_exp = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<Claims>(proof, &key, &validation)
        .map_err(|err| match err.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => ProofError::Signature,
            jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => ProofError::Algorithm,
            _ => ProofError::Malformed("its claims (jti, htm, htu and iat are required)"),
        })?
        .claims;
    if claims.jti.is_empty() || claims.jti.len() > MAX_JTI {
        return Err(ProofError::Malformed("its jti"));
    }
    if claims.htm != request.method {
        return Err(ProofError::Method);
    }
    match (target_uri(&claims.htu), target_uri(request.url)) {
        (Some(claimed), Some(actual)) if claimed == actual => {}
        _ => return Err(ProofError::Url),
    }
    // `iat` is the sender's: any number, so no sum with it may overflow.
    if claims.iat.saturating_add(MAX_AGE) < now {
        return Err(ProofError::TooOld);
    }
    if claims.iat > now + MAX_SKEW {
        return Err(ProofError::FromTheFuture);
    }
    if let Some(token) = request.access_token
        && claims.ath.as_deref() != Some(access_token_hash(token).as_str())
    {
        return Err(ProofError::AccessTokenHash);
    }
    let jkt = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|_| ProofError::Malformed("its jwk"))?;
    Ok(Verified {
        jkt,
        jti: claims.jti,
        iat: claims.iat,
        nonce: claims.nonce,
    })
}

/// Whether the proof's header `jwk` carries private key material (`d`, or RSA's primes).
fn holds_private_key(proof: &str) -> bool {
    let Some(encoded) = proof.split('.').next() else {
        return false;
    };
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(encoded) else {
        return false;
    };
    let Ok(header) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return false;
    };
    ["d", "p", "q", "dp", "dq", "qi", "k"]
        .iter()
        .any(|field| header["jwk"].get(field).is_some())
}

/// The URL as `htu` compares it (§4.3): scheme, host, port and path; no query or fragment.
pub fn target_uri(url: &str) -> Option<String> {
    let mut url = url::Url::parse(url).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return None;
    }
    url.set_query(None);
    url.set_fragment(None);
    Some(url.to_string())
}

/// `ath`: the base64url SHA-256 of the access token (§4.2).
pub fn access_token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        access_token.as_bytes(),
    ))
}

/// The `jti`s seen within [`MAX_AGE`], at most `capacity` of them (the oldest go first: a
/// proof pushed out this way could be replayed, so size it above the requests per window).
pub struct ReplayCache {
    capacity: usize,
    seen: Mutex<Seen>,
}

/// Each key's first use, and the keys in the order they came.
type Seen = (HashMap<String, u64>, VecDeque<(String, u64)>);

impl ReplayCache {
    /// A cache of at most `capacity` proofs.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            seen: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    /// Records the proof's `jti` (per key); a second use within the window is refused.
    pub fn first_use(&self, proof: &Verified, now: u64) -> Result<(), ProofError> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let (index, order) = &mut *seen;
        while let Some((key, at)) = order.front() {
            if at + MAX_AGE + MAX_SKEW >= now && index.len() < self.capacity {
                break;
            }
            index.remove(key);
            order.pop_front();
        }
        let key = format!("{}.{}", proof.jkt, proof.jti);
        if index.contains_key(&key) {
            return Err(ProofError::Replayed);
        }
        index.insert(key.clone(), now);
        order.push_back((key, now));
        Ok(())
    }

    /// How many proofs are remembered.
    pub fn len(&self) -> usize {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).0.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Server nonces (§8, §9): one current, the one before it still accepted, replaced every
/// `lifetime` seconds.
pub struct Nonces {
    lifetime: u64,
    state: Mutex<(String, Option<String>, u64)>,
}

impl Nonces {
    /// Nonces that last `lifetime` seconds, the first made at `now`.
    pub fn new(lifetime: u64, now: u64) -> Self {
        Self {
            lifetime: lifetime.max(1),
            state: Mutex::new((fresh_nonce(), None, now)),
        }
    }

    /// The nonce to send now.
    pub fn current(&self, now: u64) -> String {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if now >= state.2 + self.lifetime {
            let previous = std::mem::replace(&mut state.0, fresh_nonce());
            state.1 = Some(previous);
            state.2 = now;
        }
        state.0.clone()
    }

    /// Whether `nonce` is the current one or the one before it.
    pub fn accepts(&self, nonce: Option<&str>, now: u64) -> bool {
        let current = self.current(now);
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        nonce.is_some_and(|n| n == current || state.1.as_deref() == Some(n))
    }
}

fn fresh_nonce() -> String {
    let mut bytes = [0u8; 18];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .expect("the system's random source");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A P-256 key that makes proofs (ES256).
pub struct ProofKey {
    encoding: EncodingKey,
    jwk: Jwk,
    pkcs8: Vec<u8>,
}

impl std::fmt::Debug for ProofKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProofKey")
            .field("jkt", &self.thumbprint())
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct ProofClaims<'a> {
    jti: String,
    htm: &'a str,
    htu: &'a str,
    iat: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    ath: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
}

impl ProofKey {
    /// A new key from the system's random source.
    pub fn generate() -> Self {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &rng,
        )
        .expect("a P-256 key");
        Self::from_pkcs8(pkcs8.as_ref()).expect("a key ring made")
    }

    /// The key from its PKCS #8 DER form.
    pub fn from_pkcs8(der: &[u8]) -> Option<Self> {
        // Refused here, not at the first signature: a key that does not parse.
        ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            der,
            &ring::rand::SystemRandom::new(),
        )
        .ok()?;
        let encoding = EncodingKey::from_ec_der(der);
        let jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES256).ok()?;
        Some(Self {
            encoding,
            jwk,
            pkcs8: der.to_vec(),
        })
    }

    /// The private key in PKCS #8 DER, to keep it (in the credential vault, beside the
    /// refresh token it binds).
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The key's thumbprint, as `cnf.jkt` names it.
    pub fn thumbprint(&self) -> String {
        self.jwk
            .thumbprint(ThumbprintHash::SHA256)
            .expect("an EC key has a thumbprint")
    }

    /// A proof for `method` `url` at `iat`, for `access_token` on a resource request, with the
    /// server's `nonce` when it asked for one.
    pub fn proof(
        &self,
        method: &str,
        url: &str,
        iat: u64,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some(PROOF_TYPE.to_owned());
        header.jwk = Some(self.jwk.clone());
        let claims = ProofClaims {
            jti: fresh_nonce(),
            htm: method,
            htu: url,
            iat,
            ath: access_token.map(access_token_hash),
            nonce,
        };
        jsonwebtoken::encode(&header, &claims, &self.encoding).expect("an ES256 signature")
    }
}

/// Now, in Unix seconds.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://api.example/api/messages/protected";
    const NOW: u64 = 1_800_000_000;

    fn request(access_token: Option<&str>) -> Request<'_> {
        Request {
            method: "GET",
            url: URL,
            access_token,
        }
    }

    #[test]
    fn a_fresh_proof_for_the_request_verifies_and_names_its_key() {
        let key = ProofKey::generate();
        let proof = key.proof("GET", URL, NOW, Some("token"), None);
        let verified = verify(&proof, request(Some("token")), NOW).unwrap();
        assert_eq!(verified.jkt, key.thumbprint());
        // The query and fragment are not part of htu.
        let at_query = Request {
            url: "https://api.example/api/messages/protected?page=2#top",
            ..request(Some("token"))
        };
        assert!(verify(&proof, at_query, NOW).is_ok());
    }

    #[test]
    fn a_proof_for_anything_else_is_refused_with_the_reason() {
        let key = ProofKey::generate();
        let proof = key.proof("GET", URL, NOW, Some("token"), None);
        let refused = |request: Request<'_>, now| verify(&proof, request, now).unwrap_err();
        let post = Request {
            method: "POST",
            ..request(Some("token"))
        };
        assert_eq!(refused(post, NOW), ProofError::Method);
        let elsewhere = Request {
            url: "https://api.example/api/messages/admin",
            ..request(Some("token"))
        };
        assert_eq!(refused(elsewhere, NOW), ProofError::Url);
        assert_eq!(
            refused(request(Some("another")), NOW),
            ProofError::AccessTokenHash
        );
        assert_eq!(
            refused(request(Some("token")), NOW + MAX_AGE + 1),
            ProofError::TooOld
        );
        assert_eq!(
            refused(request(Some("token")), NOW - MAX_SKEW - 1),
            ProofError::FromTheFuture
        );
        // An iat at the end of the range is refused, not an overflow.
        let far = key.proof("GET", URL, u64::MAX, Some("token"), None);
        assert_eq!(
            verify(&far, request(Some("token")), NOW).unwrap_err(),
            ProofError::FromTheFuture
        );
        // A resource request needs ath; a proof made without one does not pass.
        let without_ath = key.proof("GET", URL, NOW, None, None);
        assert_eq!(
            verify(&without_ath, request(Some("token")), NOW).unwrap_err(),
            ProofError::AccessTokenHash
        );
    }

    #[test]
    fn a_proof_signed_by_another_key_or_not_a_proof_is_refused() {
        let (key, other) = (ProofKey::generate(), ProofKey::generate());
        let proof = key.proof("GET", URL, NOW, None, None);
        let forged = other.proof("GET", URL, NOW, None, None);
        // The header of one with the claims and signature of the other.
        let mixed = format!(
            "{}.{}",
            proof.split('.').next().unwrap(),
            forged.split_once('.').unwrap().1
        );
        assert_eq!(
            verify(&mixed, request(None), NOW).unwrap_err(),
            ProofError::Signature
        );
        assert!(matches!(
            verify("not a jwt", request(None), NOW).unwrap_err(),
            ProofError::Malformed(_)
        ));
        // A plain JWT (typ JWT) is not a proof.
        let mut header = Header::new(Algorithm::ES256);
        header.jwk = Some(key.jwk.clone());
        let claims = serde_json::json!({"jti": "1", "htm": "GET", "htu": URL, "iat": NOW});
        let plain = jsonwebtoken::encode(&header, &claims, &key.encoding).unwrap();
        assert_eq!(
            verify(&plain, request(None), NOW).unwrap_err(),
            ProofError::Type
        );
        // A MAC is not accepted, whatever it says.
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(PROOF_TYPE.into());
        let mac =
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(b"shared")).unwrap();
        assert_eq!(
            verify(&mac, request(None), NOW).unwrap_err(),
            ProofError::Algorithm
        );
    }

    #[test]
    fn a_kept_key_is_the_same_key_and_garbage_is_no_key() {
        let key = ProofKey::generate();
        let again = ProofKey::from_pkcs8(key.pkcs8()).unwrap();
        assert_eq!(again.thumbprint(), key.thumbprint());
        let proof = again.proof("GET", URL, NOW, None, None);
        assert_eq!(
            verify(&proof, request(None), NOW).unwrap().jkt,
            key.thumbprint()
        );
        assert!(ProofKey::from_pkcs8(b"not a key").is_none());
        assert!(!format!("{key:?}").contains(&format!("{:?}", key.pkcs8())));
    }

    #[test]
    fn a_jti_is_accepted_once_per_key_within_the_window() {
        let cache = ReplayCache::new(1000);
        let key = ProofKey::generate();
        let proof = verify(&key.proof("GET", URL, NOW, None, None), request(None), NOW).unwrap();
        assert!(cache.first_use(&proof, NOW).is_ok());
        assert_eq!(cache.first_use(&proof, NOW + 10), Err(ProofError::Replayed));
        // Past the window it is forgotten (verify refuses so old a proof anyway).
        assert!(
            cache
                .first_use(&proof, NOW + MAX_AGE + MAX_SKEW + 1)
                .is_ok()
        );
        // Bounded.
        let small = ReplayCache::new(2);
        for n in 0..10 {
            let p = Verified {
                jti: n.to_string(),
                ..proof.clone()
            };
            small.first_use(&p, NOW).unwrap();
        }
        assert!(small.len() <= 2);
    }

    #[test]
    fn nonces_rotate_and_the_previous_one_is_still_accepted() {
        let nonces = Nonces::new(60, NOW);
        let first = nonces.current(NOW);
        assert!(nonces.accepts(Some(&first), NOW));
        assert!(!nonces.accepts(None, NOW));
        assert!(!nonces.accepts(Some("made-up"), NOW));
        let second = nonces.current(NOW + 61);
        assert_ne!(first, second);
        assert!(nonces.accepts(Some(&first), NOW + 61));
        let _third = nonces.current(NOW + 122);
        assert!(!nonces.accepts(Some(&first), NOW + 122));
    }
}
