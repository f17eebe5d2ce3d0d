//! The scopes an MCP client can be granted. A write scope implies the matching read scope
//! (the spec asks servers to account for hierarchies they define; this is ours).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum McpScope {
    ConnectionsRead,
    ConnectionsWrite,
    ProfilesRead,
    ProfilesWrite,
    PlatformsRead,
    WebhooksRead,
    StatsRead,
}

impl McpScope {
    pub const ALL: [McpScope; 7] = [
        McpScope::ConnectionsRead,
        McpScope::ConnectionsWrite,
        McpScope::ProfilesRead,
        McpScope::ProfilesWrite,
        McpScope::PlatformsRead,
        McpScope::WebhooksRead,
        McpScope::StatsRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            McpScope::ConnectionsRead => "connections:read",
            McpScope::ConnectionsWrite => "connections:write",
            McpScope::ProfilesRead => "profiles:read",
            McpScope::ProfilesWrite => "profiles:write",
            McpScope::PlatformsRead => "platforms:read",
            McpScope::WebhooksRead => "webhooks:read",
            McpScope::StatsRead => "stats:read",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == s)
    }

    /// Whether this scope lets a key with only read permission use it.
    pub fn writes(self) -> bool {
        matches!(self, McpScope::ConnectionsWrite | McpScope::ProfilesWrite)
    }

    /// What a consent page says the scope allows.
    pub fn describe(self) -> &'static str {
        match self {
            McpScope::ConnectionsRead => "See connected accounts and their health",
            McpScope::ConnectionsWrite => {
                "Start connections, refresh tokens, activate, deactivate and disconnect accounts"
            }
            McpScope::ProfilesRead => "See profiles",
            McpScope::ProfilesWrite => "Create profiles",
            McpScope::PlatformsRead => "See which platforms are available",
            McpScope::WebhooksRead => "See webhook settings and recent deliveries",
            McpScope::StatsRead => "See usage statistics",
        }
    }

    /// The read scope a write scope implies.
    fn implied(self) -> Option<McpScope> {
        match self {
            McpScope::ConnectionsWrite => Some(McpScope::ConnectionsRead),
            McpScope::ProfilesWrite => Some(McpScope::ProfilesRead),
            _ => None,
        }
    }
}

impl fmt::Display for McpScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of granted scopes, kept sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(Vec<McpScope>);

impl ScopeSet {
    pub fn all() -> Self {
        Self(McpScope::ALL.to_vec())
    }

    pub fn from_scopes(scopes: impl IntoIterator<Item = McpScope>) -> Self {
        let mut v: Vec<McpScope> = scopes.into_iter().collect();
        v.sort();
        v.dedup();
        Self(v)
    }

    /// Parses a space-separated `scope` parameter. `Err` names the first unknown scope.
    /// `offline_access` is accepted and dropped: refresh tokens are always issued.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut scopes = Vec::new();
        for s in raw.split(' ').filter(|s| !s.is_empty()) {
            if s == "offline_access" {
                continue;
            }
            scopes.push(McpScope::parse(s).ok_or_else(|| s.to_owned())?);
        }
        Ok(Self::from_scopes(scopes))
    }

    /// From stored strings; unknown ones (from a later version) are ignored.
    pub fn from_stored(stored: &[String]) -> Self {
        Self::from_scopes(stored.iter().filter_map(|s| McpScope::parse(s)))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = McpScope> + '_ {
        self.0.iter().copied()
    }

    /// Whether the set allows `scope`, directly or through the write scope implying it.
    pub fn allows(&self, scope: McpScope) -> bool {
        self.0
            .iter()
            .any(|s| *s == scope || s.implied() == Some(scope))
    }

    pub fn is_subset_of(&self, other: &ScopeSet) -> bool {
        self.0.iter().all(|s| other.0.contains(s))
    }

    /// Without the write scopes (for an API key that may only read).
    pub fn read_only(&self) -> Self {
        Self(self.0.iter().copied().filter(|s| !s.writes()).collect())
    }

    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(|s| s.as_str().to_owned()).collect()
    }

    /// Space-separated, as OAuth writes scopes.
    pub fn joined(&self) -> String {
        self.to_strings().join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_round_trips_through_its_name() {
        for scope in McpScope::ALL {
            assert_eq!(McpScope::parse(scope.as_str()), Some(scope));
        }
    }

    #[test]
    fn parsing_drops_offline_access_and_names_an_unknown_scope() {
        let set = ScopeSet::parse("profiles:read  offline_access connections:write").unwrap();
        assert_eq!(set.joined(), "connections:write profiles:read");
        assert_eq!(ScopeSet::parse("profiles:read admin").unwrap_err(), "admin");
    }

    #[test]
    fn a_write_scope_implies_its_read_scope_and_nothing_else() {
        let set = ScopeSet::from_scopes([McpScope::ConnectionsWrite]);
        assert!(set.allows(McpScope::ConnectionsRead));
        assert!(set.allows(McpScope::ConnectionsWrite));
        assert!(!set.allows(McpScope::ProfilesRead));
        assert!(
            !ScopeSet::from_scopes([McpScope::ConnectionsRead]).allows(McpScope::ConnectionsWrite)
        );
    }

    #[test]
    fn read_only_drops_write_scopes() {
        assert_eq!(
            ScopeSet::all().read_only().joined(),
            "connections:read profiles:read platforms:read webhooks:read stats:read"
        );
    }
}
