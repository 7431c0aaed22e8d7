//! The raw costs under every request: signing and verifying an access token with each
//! algorithm, hashing an API key, minting a secret and checking a secret's format and checksum.
//!
//! `cargo bench -p tessera-crypto`. Per-core reference figures for the underlying primitives are
//! in `/work/shared/CRATES.md` (ES256 verify ~13k/s, SHA-256 of 32 bytes ~8M/s).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tessera_crypto::keyring::PublishedKey;
use tessera_crypto::{
    ACCESS_TOKEN_TYP, AccessTokenClaims, Algorithm, Expectation, GeneratedKey, GeneratedSecret,
    KeyRing, SecretKind, sha256,
};

const ISSUER: &str = "https://id.example.com";
const NOW: i64 = 1_750_000_000;

/// Claims shaped like the server's (typed ids, a UUIDv7 jti, a couple of scopes).
fn claims() -> AccessTokenClaims {
    AccessTokenClaims {
        iss: ISSUER.to_owned(),
        sub: "agt_0197a5f0c1d27c3e8f2b4a6d8e0f1a2b".to_owned(),
        aud: ISSUER.to_owned(),
        exp: NOW + 3600,
        iat: NOW,
        jti: "0197a5f0c1d27c3e8f2b4a6d8e0f1a2c".to_owned(),
        client_id: "agt_0197a5f0c1d27c3e8f2b4a6d8e0f1a2b".to_owned(),
        scope: "mail:read mail:send".to_owned(),
        tenant_id: "ten_0197a5f0c1d27c3e8f2b4a6d8e0f1a2d".to_owned(),
        gid: None,
        cnf: None,
        act: None,
        dgid: None,
    }
}

/// A ring that publishes one key of `alg` and signs with it.
fn ring(alg: Algorithm) -> KeyRing {
    let kid = "0197a5f0c1d27c3e8f2b4a6d8e0f1a2e";
    let key = GeneratedKey::new(alg, kid).expect("generating a signing key");
    let published = PublishedKey {
        kid: kid.to_owned(),
        alg,
        public_jwk: key.public_jwk.clone(),
    };
    KeyRing::new(&[published], Some((kid, alg, &key.private_pkcs8))).expect("building a key ring")
}

fn keyring(c: &mut Criterion) {
    let claims = claims();
    let expect = Expectation {
        typ: ACCESS_TOKEN_TYP,
        issuer: ISSUER,
        audience: ISSUER,
        now: NOW,
    };
    let mut group = c.benchmark_group("keyring");
    for alg in Algorithm::ALL {
        let ring = ring(alg);
        group.bench_function(BenchmarkId::new("sign", alg), |b| {
            b.iter(|| {
                ring.sign(ACCESS_TOKEN_TYP, black_box(&claims))
                    .expect("signing")
            });
        });
        let token = ring.sign(ACCESS_TOKEN_TYP, &claims).expect("signing");
        group.bench_function(BenchmarkId::new("verify", alg), |b| {
            b.iter(|| {
                ring.verify::<AccessTokenClaims>(black_box(&token), &expect)
                    .expect("a valid token")
            });
        });
    }
    group.finish();
}

fn secrets(c: &mut Criterion) {
    let generated = GeneratedSecret::new(SecretKind::TenantApiKey);
    let key = generated.secret.expose().to_owned();
    let mut group = c.benchmark_group("secret");
    group.bench_function("sha256(api key)", |b| {
        b.iter(|| sha256(black_box(key.as_bytes())));
    });
    group.bench_function("SecretKind::of (checksum)", |b| {
        b.iter(|| SecretKind::of(black_box(&key)).expect("a well-formed key"));
    });
    group.bench_function("GeneratedSecret::new", |b| {
        b.iter(|| GeneratedSecret::new(SecretKind::TenantApiKey));
    });
    group.finish();
}

fn config() -> Criterion {
    // 50 samples in 3 s is enough for these steady, CPU-bound operations, and keeps the
    // slowest one (RS256 signing, ~1 ms) within its budget.
    Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = keyring, secrets
}
criterion_main!(benches);
