//! tessera-federation against real peers, in one test binary: npm `oidc-provider` (started per
//! test through `tessera_testkit::OidcProvider`, signed into through its login and consent
//! forms) for OpenID Connect; for GitHub, which has no peer here, a small local stand-in for
//! its token endpoint and REST API that checks how requests are shaped.

// Every function in this crate is test code, helpers included.
#![allow(clippy::unwrap_used)]

#[path = "integration/github.rs"]
mod github;
#[path = "integration/oidc.rs"]
mod oidc;
