//! API tokens and roles: creating, listing and revoking tokens, and recognising a presented
//! bearer token. Only a token's SHA-256 is stored; comparison is constant-time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::store::{Store, StoreError, TokenRecord};

/// What a caller may do. Ordered: each role can do what the ones before it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Role {
    /// Read, where reads need a token.
    Reader,
    /// Read and change the graph.
    Editor,
    /// Everything an editor can, plus deleting with cascade.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "reader" => Some(Role::Reader),
            "editor" => Some(Role::Editor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// Who is calling: a token's name and role. Requests without a token have no caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("token name `{0}` is not allowed: use 1-64 letters, digits, `-`, `_` or `.`")]
    BadName(String),
    #[error("cannot get randomness for a token: {0}")]
    Random(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Creates a token and returns its secret, which is shown once and never stored.
pub async fn create_token(store: &dyn Store, name: &str, role: Role) -> Result<String, AuthError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        return Err(AuthError::BadName(name.into()));
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AuthError::Random(e.to_string()))?;
    let secret = format!("pg_{}", hex::encode(bytes));
    store
        .add_token(&TokenRecord {
            name: name.into(),
            role: role.as_str().into(),
            sha256: sha256_hex(&secret),
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        })
        .await?;
    Ok(secret)
}

/// The caller a presented secret belongs to, if any. Every stored hash is compared, in constant
/// time, so that timing tells nothing about which prefix matched.
pub fn authenticate(tokens: &[TokenRecord], secret: &str) -> Option<Caller> {
    let presented = sha256_hex(secret);
    let mut found = None;
    for t in tokens {
        if bool::from(t.sha256.as_bytes().ct_eq(presented.as_bytes())) {
            if let Some(role) = Role::parse(&t.role) {
                found = Some(Caller { name: t.name.clone(), role });
            }
        }
    }
    found
}
