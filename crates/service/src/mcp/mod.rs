//! The MCP side: the scopes an agent can hold, the OAuth 2.1 authorization server that
//! grants them against an API key, and the use cases the tools call that the REST API has
//! no single call for (platform capabilities, usage statistics).

pub mod oauth;
pub mod overview;
pub mod scopes;

pub use oauth::{McpPrincipal, McpSettings, OAuthError, TokenRejection};
pub use scopes::{McpScope, ScopeSet};
